r"""Smoothing schedules, one abstraction shared by lin-RFM and IRLS.

lin-RFM with exponent :math:`\alpha` and IRLS-:math:`p` with :math:`p = 2 - 4\alpha` take the same
step (:mod:`recovery.rfm.linrfm`, :mod:`recovery.rfm.irls`): a weighted least-squares fit with the
kernel :math:`(G_t + \lambda_t I)^{2\alpha}` (:math:`2\alpha = 1 - p/2`), where the shift
:math:`\lambda_t = \varepsilon_t \operatorname{tr}(G_t)/d_2` (for vectors
:math:`\varepsilon_t\operatorname{mean}(\beta_t^2)`) is set by the *relative smoothing*
:math:`\varepsilon_t`. The methods differ in how they lower :math:`\varepsilon_t`, and that choice,
not the step, decides how far and how fast they go. A schedule is therefore a value of its own,
passed as ``schedule=`` to either method, so that two methods can be compared under one schedule
and each method's published schedule can be run on its own, labelled:

- :class:`AdaptiveSmoothing` (``factor`` :math:`c`, lin-RFM's default): the kernel's relative
  smoothing follows the progress of the iteration,
  :math:`\varepsilon_{t+1}^{2\alpha} = \min(\varepsilon_t^{2\alpha},\, c\,\delta_t)`, with :math:`\delta_t`
  the relative change made by step :math:`t` (on the free entries for completion). It never
  raises the smoothing, and it lowers it only as fast as the iterate settles.
- :class:`GeometricSmoothing` (``rate`` :math:`\theta`, IRLS's default, in the style of Mohan
  and Fazel 2012): :math:`\varepsilon_{t+1} = \theta\,\varepsilon_t`, whatever the iterate does.

Both stop lowering at a floor (:meth:`SmoothingSchedule.rule`). One more schedule lives elsewhere:
paper B's released code sets its ridge from the test error (an oracle;
:mod:`recovery.rfm.published`), which no method here may read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from recovery.core import validation
from recovery.core.iteration import smoothing_floor

Update = Callable[[float, float], float]


class SmoothingSchedule:
    """How the relative smoothing :math:`\\varepsilon_t` moves from one step to the next."""

    def rule(self, exponent: float, dtype: torch.dtype) -> tuple[Update, float]:
        """``(update, floor)`` for :func:`recovery.core.iteration.iterate`: ``update(epsilon,
        change)`` gives the next smoothing from the current one and the relative change of the
        last step, for a kernel with exponent ``exponent`` (:math:`2\alpha`) in ``dtype``; the
        smoothing never falls below ``floor``."""
        raise NotImplementedError


@dataclass(frozen=True)
class AdaptiveSmoothing(SmoothingSchedule):
    r""":math:`\varepsilon_{t+1}^{2\alpha} = \min(\varepsilon_t^{2\alpha}, c\,\delta_t)`, :math:`c` = ``factor``.

    Stated in kernel units, :math:`\varepsilon^{2\alpha}`, because the power :math:`2\alpha` turns the shift
    :math:`\lambda` into :math:`\lambda^{2\alpha}` at the small eigenvalues, where the smoothing acts;
    at :math:`2\alpha = 1` (lin-RFM :math:`\alpha = 1/2`, IRLS-0) it reads
    :math:`\varepsilon_{t+1} = \min(\varepsilon_t, c\,\delta_t)`. The floor is 1000 machine
    epsilons in the same units, :math:`\varepsilon^{2\alpha} \ge 1000\,\mathrm{eps}`."""

    factor: float = 10.0

    def __post_init__(self) -> None:
        validation.positive_number("factor", self.factor)

    def rule(self, exponent: float, dtype: torch.dtype) -> tuple[Update, float]:
        power = 1 / validation.positive_number("exponent", exponent)
        factor = self.factor
        return (lambda epsilon, change: min(epsilon, (factor * change) ** power)), smoothing_floor(dtype) ** power


@dataclass(frozen=True)
class GeometricSmoothing(SmoothingSchedule):
    r""":math:`\varepsilon_{t+1} = \theta\,\varepsilon_t`, :math:`\theta` = ``rate`` in (0, 1].

    Independent of the iterate and of the kernel's exponent; the floor is 1000 machine epsilons
    of :math:`\varepsilon` itself (below it the shift :math:`\lambda` is lost in the round-off
    of :math:`G`)."""

    rate: float = 0.9

    def __post_init__(self) -> None:
        validation.positive_number("rate", self.rate, at_most=1.0)

    def rule(self, exponent: float, dtype: torch.dtype) -> tuple[Update, float]:
        validation.positive_number("exponent", exponent)
        rate = self.rate
        return (lambda epsilon, change: rate * epsilon), smoothing_floor(dtype)


ADAPTIVE = AdaptiveSmoothing()
"""lin-RFM's default schedule, :class:`AdaptiveSmoothing` with factor 10."""
GEOMETRIC = GeometricSmoothing()
"""IRLS's default schedule, :class:`GeometricSmoothing` with rate 0.9."""


def require_schedule(schedule) -> SmoothingSchedule:
    """Return ``schedule`` if it is a :class:`SmoothingSchedule`, else raise a ``ValueError``
    that names the two kinds."""
    if not isinstance(schedule, SmoothingSchedule):
        raise ValueError(
            "schedule: expected AdaptiveSmoothing(factor) or GeometricSmoothing(rate) from "
            f"recovery.rfm.schedules, got {schedule!r}")
    return schedule
