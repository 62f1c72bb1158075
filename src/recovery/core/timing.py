"""Timing an iterative method to a target error, with the cost of measuring the error excluded.

Used by the ``linrfm-scale`` experiment and the benchmark scripts: wall-clock readings belong in
benchmarks and timing records, never in pass/fail checks.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


class OutOfBudget(Exception):
    """Raised by the timing callback to stop a run (target reached or wall-clock budget spent)."""


@dataclass
class Timing:
    """Outcome of :func:`timed`: iterations run, method seconds (callback excluded), last test error,
    and ``(iteration, seconds)`` when the error first fell to ``target`` (and to ``finer``)."""

    name: str
    iterations: int = 0
    seconds: float = 0.0
    error: float = float("nan")
    reached_at: tuple[int, float] | None = None
    finer_at: tuple[int, float] | None = None

    @property
    def seconds_per_iteration(self) -> float:
        return self.seconds / max(self.iterations, 1)


def timed(name: str, run: Callable, error: Callable[[torch.Tensor], float], *, target: float,
          finer: float | None = None, budget_seconds: float = math.inf, device: str = "cpu") -> Timing:
    """Call ``run(callback)`` (an iterative method taking a per-iteration callback) and time it.

    ``error(estimate)`` is the test error, evaluated in the callback; its cost is measured and
    subtracted. The run is stopped once the error is at most ``target`` (and ``finer``, if given)
    or the method time exceeds ``budget_seconds``; otherwise it runs to its own iteration limit.
    On CUDA the device is synchronised before each reading of the clock.
    """
    timing = Timing(name)
    synchronize = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)
    overhead = 0.0
    start = time.perf_counter()

    def callback(iteration: int, estimate: torch.Tensor):
        nonlocal overhead
        synchronize()
        entered = time.perf_counter()
        timing.iterations = iteration
        timing.seconds = entered - start - overhead
        timing.error = error(estimate)
        if timing.reached_at is None and timing.error <= target:
            timing.reached_at = (iteration, timing.seconds)
        if finer is not None and timing.finer_at is None and timing.error <= finer:
            timing.finer_at = (iteration, timing.seconds)
        overhead += time.perf_counter() - entered
        done = timing.reached_at is not None and (finer is None or timing.finer_at is not None)
        if done or timing.seconds > budget_seconds:
            raise OutOfBudget
        return None

    with contextlib.suppress(OutOfBudget):
        run(callback)
    return timing


def format_time(point: tuple[int, float] | None) -> str:
    """``"<seconds> s (<iterations> it)"``, or ``"not reached"``."""
    return "not reached" if point is None else f"{point[1]:8.2f} s ({point[0]} it)"
