"""The one result type of every solver in the library, and the warning for runs that did not converge.

Shaped like ``scipy.optimize.OptimizeResult``: the solution, whether the method met its own
stopping rule (``converged``, scipy's ``success``), a machine-readable ``status``, a sentence
saying why the run stopped (``message``), the number of iterations, and an optional history.
Quantities only some methods have (residuals, factors, a loss) are in ``info``.

Batched solvers (the convex programs solve ``T`` instances at once) report ``converged`` as a
boolean tensor of shape ``(T,)``; ``status`` is then :attr:`Status.CONVERGED` only when every
instance converged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import torch


class Status(StrEnum):
    """Why a run stopped."""

    #: The method's stopping rule was met (its tolerance, stated in ``message``).
    CONVERGED = "converged"
    #: The iteration budget ran out first: the solution is the last iterate, not a converged one.
    MAX_ITER = "max_iter"
    #: An external target (e.g. a test error the method does not see) was reached.
    TARGET = "target"
    #: The iterate settled on a fit to the data that the data do not determine (others arbitrarily
    #: close fit them as well): stopped, without the certificate of ``CONVERGED``.
    NOT_DETERMINED = "not_determined"


class ConvergenceWarning(UserWarning):
    """A run stopped at its iteration budget before meeting its tolerance."""


@dataclass(frozen=True, eq=False)
class Result:
    """Outcome of a solver: the solution and why the run stopped.

    ``history`` holds one dict per recorded iteration (the method's progress measures and
    whatever a user callback returned); ``info`` holds method-specific final quantities.
    """

    solution: Any
    converged: bool | torch.Tensor
    status: Status
    message: str
    iterations: int
    history: list[dict[str, Any]] = field(default_factory=list, repr=False)
    info: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.status, Status):
            raise ValueError(f"status: expected a recovery.core.results.Status, got {self.status!r}")
