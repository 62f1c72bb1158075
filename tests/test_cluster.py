"""The cluster route: a split figure's units on a local Dask cluster of two worker processes give
the rows of one process, byte for byte (the same code runs on a remote cluster)."""

from __future__ import annotations

import json

import pytest
from joblib import parallel_config

from recovery.book import figures

pytestmark = pytest.mark.kernel_independent  # processes and files, not numbers: make portable skips it

distributed = pytest.importorskip(
    "dask.distributed", reason="dask[distributed] is not installed (it is pinned in requirements.lock; make installs it)")


def test_a_split_figure_runs_on_a_local_distributed_cluster(tmp_path):
    figure_id = "flat-identity"
    units = len(figures.get(figure_id).split(figures.parameters(figure_id, "ci")))
    assert units == 2
    figures.reproduce(figure_id, "ci", tmp_path / "one")
    with (distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
          as cluster, distributed.Client(cluster), parallel_config(backend="dask")):
        record = json.loads(figures.reproduce(figure_id, "ci", tmp_path / "cluster", jobs=-1).read_text())
    assert record["jobs"] == 2 and record["units"] == units
    csv = f"{figure_id}.csv"
    assert (tmp_path / "cluster" / csv).read_bytes() == (tmp_path / "one" / csv).read_bytes()
