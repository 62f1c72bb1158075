"""A deliberately slow, split figure for the resume tests (not collected: no ``test_`` prefix).

Each unit sleeps, leaves a marker file in ``$SLOW_FIGURE_LOG`` (so a test can count which units
were computed by which run) and returns two rows; the unit numbered ``$SLOW_FIGURE_FAIL`` raises
instead (an interrupted run). With ``$SLOW_FIGURE_GATE`` naming a file that holds a number ``n``,
units ``n`` and later wait until the file allows them, so that a test decides how far a run gets
whatever the machine's load. The rows hold a float that prints as an integer and a string of
digits, which must come back from the CSV as they went in.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import matplotlib.pyplot as plt

from recovery.experiments.spec import FigureSpec, parts, split_parts

ID = "test-slow-sweep"


def compute(params):
    rows = []
    for part in parts(params, params["units"]):
        time.sleep(params["sleep"])
        gate = os.environ.get("SLOW_FIGURE_GATE")
        while gate and part >= int(Path(gate).read_text()):
            time.sleep(0.01)
        if os.environ.get("SLOW_FIGURE_FAIL") == str(part):
            raise RuntimeError(f"unit {part} fails (SLOW_FIGURE_FAIL)")
        marker = Path(os.environ["SLOW_FIGURE_LOG"]) / f"unit-{part}-pid-{os.getpid()}-{time.time_ns()}"
        marker.touch()
        rows += [{"part": part, "trial": t, "value": (part + 1) ** 0.5 / (t + 3), "weight": float(t),
                  "tag": f"{part:03d}", "ok": t == 0} for t in range(2)]
    return rows


def plot(rows, params):
    fig, axis = plt.subplots()
    axis.plot([row["value"] for row in rows])
    axis.set(xlabel="row", ylabel="value")
    return fig


SPEC = FigureSpec(
    id=ID,
    notebook="none",
    claim="test only",
    scales={"ci": {"units": 6, "sleep": 0.4}, "paper": {"units": 12, "sleep": 0.0},
            "faults": {"units": 12, "sleep": 0.3}},
    compute=compute,
    plot=plot,
    split=split_parts(lambda params: params["units"]),
)
