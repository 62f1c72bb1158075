"""Provenance records: enough to say where a number came from and to regenerate it."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

import recovery
from recovery.book.files import replace_text

_LIBRARIES = ("numpy", "scipy", "torch", "matplotlib")


def git_state(directory: Path | None = None) -> dict[str, Any]:
    """Return ``{"commit": sha or None, "dirty": bool or None, "diff": hash or None}`` of the
    checkout holding this package.

    ``dirty`` is true when tracked files other than ``results/`` differ from the commit; ``diff``
    is then the SHA-256 of those differences (``git diff HEAD``), so two different uncommitted
    edits of one commit are told apart, and None when there are none.
    """
    directory = directory or Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=directory, capture_output=True, text=True, check=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None, "diff": None}
    # Regenerated figure data under results/ do not make the code dirty.
    code = ("--", ":(top,exclude)results")
    status = git("status", "--porcelain", "--untracked-files=no", *code)
    diff = git("diff", "HEAD", "--binary", *code) if status else None
    return {"commit": commit, "dirty": None if status is None else bool(status),
            "diff": hashlib.sha256(diff.encode()).hexdigest() if diff else None}


#: Environment variables that select BLAS and vector kernels or thread counts, and so the last bits.
KERNEL_SETTINGS = ("MKL_CBWR", "ATEN_CPU_CAPABILITY", "OPENBLAS_CORETYPE", "OMP_NUM_THREADS",
                   "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo`` on Linux, else what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device() -> dict[str, Any]:
    """Describe the machine the numbers were computed on: CPU, torch's BLAS/LAPACK and vector
    kernels, the settings that choose them, and thread counts."""
    config = torch.__config__.show()
    info: dict[str, Any] = {
        "torch_device": "cpu",
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch_blas": _build_setting(config, "BLAS_INFO"),
        "torch_lapack": _build_setting(config, "LAPACK_INFO"),
        "kernel_settings": {name: os.environ.get(name) for name in KERNEL_SETTINGS},
        "numpy_blas": _numpy_blas(),
        "cuda_available": torch.cuda.is_available(),
    }
    if info["cuda_available"]:
        info["cuda_device"] = torch.cuda.get_device_name()
    return info


def _build_setting(config: str, name: str) -> str | None:
    """The value of ``NAME=value`` in torch's build description, or None."""
    found = re.search(rf"\b{name}=([^,\s]+)", config)
    return found.group(1) if found else None


def _numpy_blas() -> str | None:
    """The BLAS library NumPy was built against (name and version), or None if unknown."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except (KeyError, TypeError, ValueError):
        return None
    return " ".join(str(blas[key]) for key in ("name", "version") if blas.get(key))


def determinants(git: dict[str, Any] | None = None) -> dict[str, Any]:
    """What besides its parameters determines a computation's numbers: the code (``git``, the
    :func:`git_state` read now when omitted), the Python and library versions, and the machine
    (:func:`device`: CPU, BLAS/LAPACK, vector kernels, the settings that choose them, threads).
    Checkpoints are keyed on it; records include it."""
    return {
        "git": git_state() if git is None else git,
        "python": sys.version.split()[0],
        "libraries": {name: metadata.version(name) for name in _LIBRARIES},
        "device": device(),
    }


def record(*, git: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """Return ``fields`` plus the package version, the :func:`determinants` and a UTC timestamp.

    ``git`` is the :func:`git_state` to record, read now when omitted; a long run should pass the
    state read when it *started*, since the checkout may change while it computes.
    """
    return {
        **fields,
        "package": {"name": "recovery", "version": recovery.__version__},
        **determinants(git),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def benchmark_record(name: str, args: Any, rows: list, started: float, load: Any, **summary: Any) -> dict[str, Any]:
    """The :func:`record` of a run of the benchmark ``name``: its command-line ``args`` (an
    ``argparse.Namespace`` with an ``out`` path, kept as text) as parameters, its ``rows`` as results,
    the seconds since ``started`` (``time.perf_counter()``), the ``summary`` fields, and ``load`` (the
    machine's load average when it started) beside the device."""
    fields = {"benchmark": name, "parameters": vars(args) | {"out": str(args.out)}, "results": rows,
              "runtime_seconds": time.perf_counter() - started}
    result = record(**fields) | summary
    result["device"]["load_average_at_start"] = load
    return result


def write(path: Path, record: dict[str, Any]) -> Path:
    """Write ``record`` as sorted, indented JSON to ``path`` (creating its folder, replacing the
    file whole: :func:`recovery.book.files.replacing`); return ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_text(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return path
