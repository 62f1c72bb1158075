"""Timing of iterative methods against a test error that the methods never see.

The test error is computed in a callback; its cost is measured and subtracted, so that the times
reported are those of the method alone. A run stops at the target error, at an iteration limit or
at a wall-clock budget (the callback raises :class:`OutOfBudget`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


class OutOfBudget(Exception):
    """Raised by the callback when the run's wall-clock budget is spent."""


@dataclass
class Timing:
    name: str
    iterations: int = 0
    seconds: float = 0.0  # method time, callback excluded
    error: float = float("nan")  # last test error seen
    reached_at: tuple[int, float] | None = None  # (iteration, seconds) when error <= target
    finer_at: tuple[int, float] | None = None  # the same for the second, finer target

    @property
    def seconds_per_iteration(self) -> float:
        return self.seconds / max(self.iterations, 1)


def timed(name: str, run: Callable, error: Callable[[torch.Tensor], float], *, target: float,
          finer: float | None = None, budget_seconds: float = float("inf"), device: str = "cpu") -> Timing:
    """Call ``run(callback)`` and time it; ``error(estimate)`` is the test error."""
    timing = Timing(name)
    synchronize = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
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
    return "not reached" if point is None else f"{point[1]:8.2f} s ({point[0]} it)"
