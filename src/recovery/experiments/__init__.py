"""Experiments behind the book's figures; importing a module registers its figures."""

from __future__ import annotations

import numpy as np
import torch


def trial_generator(seed: int, *index: int) -> torch.Generator:
    """Return an independent ``torch.Generator`` for trial ``index`` of an experiment seeded ``seed``.

    Streams come from ``numpy.random.SeedSequence(seed, spawn_key=index)``, so each trial's draws
    depend only on ``(seed, index)``: trials can run in any order, in parallel, or be rerun alone.
    """
    state = np.random.SeedSequence(seed, spawn_key=index).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))
