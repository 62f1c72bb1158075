"""The experiments behind the book's figures, one module per figure (or family of figures).

A module computes tidy rows, draws them and declares the claims they decide, and exports its
figures as ``FIGURES`` (see :mod:`recovery.experiments.spec`); importing it has no side effect.
The book's registry (:mod:`recovery.book.figures`) lists the modules and reads their ``FIGURES``.
"""
