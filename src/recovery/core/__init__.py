"""The foundation every algorithm builds on: observations and measurement operators, problem
generators and metrics, iteration bookkeeping and argument validation. Imports nothing else of
:mod:`recovery`."""
