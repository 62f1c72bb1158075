"""Fault injection: a split run killed at random points (SIGKILL, SIGINT, SIGTERM) and resumed each
time, two runs into one folder at once, and a damaged checkpoint, each compared with an
uninterrupted run: nothing lost, nothing duplicated, nothing mixed, and no worker outlives its run.

The kill points come from a fixed seed; the outcome (the final CSV, byte for byte) does not depend
on where the kills land.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import joblib
import psutil
import pytest
import slow_sweep_figure

from recovery.book import cli, figures

pytestmark = pytest.mark.kernel_independent  # processes and files, not numbers: make portable skips it

TESTS = Path(__file__).resolve().parent
ID = slow_sweep_figure.ID
SCALE = "faults"  # the units of the paper scale, 0.3 s each
UNITS = slow_sweep_figure.SPEC.scales[SCALE]["units"]
# The run answers SIGINT as it would in a terminal, even where the test suite itself was started
# in the background by a non-interactive shell, which makes SIGINT ignored for all its children.
SCRIPT = (
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    f"import sys; sys.path.insert(0, {str(TESTS)!r}); import slow_sweep_figure; "
    "from recovery.book import cli, figures; "
    "figures._REGISTRY[slow_sweep_figure.ID] = slow_sweep_figure.SPEC; "
    "sys.exit(cli.main(sys.argv[1:]))"
)
STARTED: list[subprocess.Popen] = []


@pytest.fixture
def reference(monkeypatch, tmp_path) -> Iterator[bytes]:
    """The CSV of an uninterrupted run (of the paper scale: the same rows without the sleep)."""
    assert slow_sweep_figure.SPEC.scales["paper"]["units"] == UNITS
    monkeypatch.setitem(figures._REGISTRY, ID, slow_sweep_figure.SPEC)
    log = tmp_path / "log"
    log.mkdir()
    monkeypatch.setenv("SLOW_FIGURE_LOG", str(log))
    yield figures.reproduce(ID, "paper", tmp_path / "reference").with_suffix(".csv").read_bytes()
    while STARTED:  # runs a failed test left behind
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
        process.communicate()


def start(out: Path, *options: str) -> subprocess.Popen:
    STARTED.append(subprocess.Popen([sys.executable, "-c", SCRIPT, "reproduce", ID, "--scale", SCALE, "--out",
                                     str(out), *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return STARTED[-1]


def units_done(checkpoint: Path) -> int:
    return len(list(checkpoint.glob("unit-*.json")))


def wait_for(condition, process: subprocess.Popen, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, f"the run ended before {what}: {process.communicate()}"
        assert time.monotonic() < deadline, f"no {what} within {seconds} s"
        time.sleep(0.01)


def outlived(workers: list[psutil.Process], seconds: float = 10) -> list[int]:
    """The ``workers`` still running ``seconds`` after their run was killed (ended now, so that a
    failing test does not wait minutes for them to close the run's pipes)."""
    _, alive = psutil.wait_procs(workers, timeout=seconds)
    running = [worker for worker in alive if worker.status() != psutil.STATUS_ZOMBIE]
    for worker in running:
        worker.kill()
    return [worker.pid for worker in running]


def assert_finished_like(out: Path, reference: bytes) -> None:
    rows, record = figures.load(ID, out)  # checks the CSV against its record's checksum
    assert record["rows"] == len(rows) == 2 * UNITS
    assert (out / f"{ID}.csv").read_bytes() == reference
    assert not list(out.glob(".*.partial")) and not list(out.glob(".*.tmp"))


def test_a_run_killed_again_and_again_resumes_to_the_uninterrupted_rows(reference, tmp_path, monkeypatch):
    """Killed once while starting, then three times (one per signal) while its two workers compute.
    A gate lets each run finish exactly the units the test allows, so every kill lands mid-run on
    a loaded machine too."""
    rng = random.Random(18)
    out = tmp_path / "out"
    checkpoint = out / f".{ID}.{SCALE}.partial"
    gate = tmp_path / "gate"
    gate.write_text("0")
    monkeypatch.setenv("SLOW_FIGURE_GATE", str(gate))
    process = start(out, "--jobs", "2")
    time.sleep(rng.uniform(0.1, 1.5))
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) != 0
    for kill in (signal.SIGKILL, signal.SIGINT, signal.SIGTERM):
        before = units_done(checkpoint)
        target = min(before + rng.randint(1, 2), UNITS - 2)  # a unit or two of this run, then more to cut short
        assert target > before
        gate.write_text(str(target))  # units before target may finish; the others wait, to be cut short
        process = start(out, "--jobs", "2")
        wait_for(lambda target=target: units_done(checkpoint) >= target, process, f"{target} units")
        time.sleep(rng.uniform(0, 0.2))
        workers = psutil.Process(process.pid).children(recursive=True)
        assert workers or joblib.cpu_count() < 2  # one core: the units run in the run's own process
        process.send_signal(kill)
        assert process.wait(timeout=30) != 0
        assert outlived(workers) == [], f"workers outlived {kill!r}"
        assert not (out / f"{ID}.csv").exists()
        assert units_done(checkpoint) >= target  # nothing finished is lost
    done = units_done(checkpoint)
    assert done < UNITS
    gate.write_text(str(UNITS))
    record = json.loads(figures.reproduce(ID, SCALE, out).read_text())
    assert record["resumed_units"] == done
    assert_finished_like(out, reference)


def test_two_runs_into_one_folder_do_not_mix(reference, tmp_path, capsys):
    """A second run into a folder where the figure is being written (here of another scale, whose
    JSON would go beside the first one's CSV) is refused while the first goes on."""
    out = tmp_path / "out"
    first = start(out)
    wait_for(lambda: (out / f".{ID}.{SCALE}.partial" / "manifest.json").exists(), first, "a checkpoint")
    assert cli.main(["reproduce", ID, "--scale", "paper", "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("recovery: error: ") and "another run is writing" in error and error.count("\n") == 1
    _, error = first.communicate(timeout=120)
    assert first.returncode == 0, error
    assert json.loads((out / f"{ID}.json").read_text())["scale"] == SCALE
    assert_finished_like(out, reference)


def test_a_damaged_checkpoint_is_refused_then_resumed_without_it(reference, tmp_path, capsys):
    out = tmp_path / "out"
    checkpoint = out / f".{ID}.{SCALE}.partial"
    process = start(out)
    wait_for(lambda: units_done(checkpoint) >= 2, process, "two units")
    process.send_signal(signal.SIGKILL)
    process.wait()
    damaged = sorted(checkpoint.glob("unit-*.json"))[1]
    content = json.loads(damaged.read_text())
    content["rows"][1]["value"] += 1e-12
    damaged.write_text(json.dumps(content))

    assert cli.main(["reproduce", ID, "--scale", SCALE, "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("recovery: error: ") and str(damaged) in error and error.count("\n") == 1
    damaged.unlink()  # what the message says to do (or --restart)
    left = units_done(checkpoint)
    record = json.loads(figures.reproduce(ID, SCALE, out).read_text())
    assert record["resumed_units"] == left >= 1
    assert_finished_like(out, reference)
