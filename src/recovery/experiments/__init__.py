"""Experiments behind the book's figures; importing a module registers its figures."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch


def trial_generator(seed: int, *index: int) -> torch.Generator:
    """Return an independent ``torch.Generator`` for trial ``index`` of an experiment seeded ``seed``.

    Streams come from ``numpy.random.SeedSequence(seed, spawn_key=index)``, so each trial's draws
    depend only on ``(seed, index)``: trials can run in any order, in parallel, or be rerun alone.
    """
    state = np.random.SeedSequence(seed, spawn_key=index).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def parts(params, count: int) -> range:
    """Indices of an experiment's outer loop (``count`` iterations) that this run computes.

    All of them, or only ``params["part"]`` when a sweep is split into units of work (see
    :func:`split_parts`). Seeds depend on loop indices, never on which part runs, so the parts
    together give exactly the rows of the whole run.
    """
    if "part" not in params:
        return range(count)
    part = params["part"]
    if not (isinstance(part, int) and 0 <= part < count):
        raise ValueError(f"part: expected an index in [0, {count}), got {part!r}")
    return range(part, part + 1)


def split_parts(count) -> Callable[[Mapping[str, Any]], list[dict[str, Any]]]:
    """A ``FigureSpec.split`` giving one unit per outer-loop iteration; ``count(params)`` is their number."""

    def split(params: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [{"part": part} for part in range(count(params))]

    return split
