"""recovery: models and algorithms of two papers on low-rank recovery, with their experiments.

Modules, one idea each:

- :mod:`recovery.measurements`: linear measurement maps (apply, adjoint, Gram sums);
- :mod:`recovery.problems`: seeded ground truths;
- :mod:`recovery.flatness`: factorised losses, gradients, Hessian forms and (scaled) traces in
  closed form, with an autodiff cross-check; balancing of factorisations;
- :mod:`recovery.experiments`: the experiments behind the book's figures;
- :mod:`recovery.figures`, :mod:`recovery.provenance`, :mod:`recovery.cli`: the figure pipeline
  and the ``recovery`` command.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("recovery")
except PackageNotFoundError:  # imported from a source tree without installing (e.g. PYTHONPATH=src)
    __version__ = "unknown"
