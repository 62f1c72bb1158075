"""recovery: models and algorithms of two papers on low-rank recovery, with their experiments.

Packages, in the order data flows (each imports only those above it):

- :func:`recovery.complete <recovery.completion.complete>` (:mod:`recovery.completion`): complete your own matrix (NumPy with
  ``nan``, SciPy sparse or torch in, the same kind out) with any method of the library;
- :mod:`recovery.core`: observations and measurement operators, problem generators and metrics,
  iteration bookkeeping, argument validation;
- :mod:`recovery.convex`: the convex relaxations and the one ADMM engine that solves them;
- :mod:`recovery.flat`: paper A, flat minima (Hessian traces, rescalings, factorised descent);
- :mod:`recovery.rfm`: paper B, lin-RFM, IRLS-p, deep linear networks, the published method;
- :mod:`recovery.experiments`: one module per figure: tidy rows, a plot, the claims they decide;
- :mod:`recovery.book`: the figure registry, sweeps, provenance and the ``recovery`` command.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("recovery")
except PackageNotFoundError:  # imported from a source tree without installing (e.g. PYTHONPATH=src)
    __version__ = "unknown"

# The user-facing entry points (:mod:`recovery.completion`).
from recovery.completion import MatrixCompleter, complete
from recovery.core.results import ConvergenceWarning, Result, Status

__all__ = ["ConvergenceWarning", "MatrixCompleter", "Result", "Status", "complete"]
