"""The files a run writes: each replaced whole or not at all, one writer per figure and folder.

Every problem a user can act on (a folder that cannot be written, a busy folder, a damaged or
mismatched file) is a :class:`ReproduceError`, which the ``recovery`` command prints as one line.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class ReproduceError(ValueError):
    """A run that cannot start or go on safely; the message names the file and what to do."""


@contextmanager
def replacing(*paths: Path) -> Iterator[list[Path]]:
    """Temporary paths, beside ``paths``, to write them through.

    When the block ends normally each temporary file replaces its target by an atomic rename, in
    the order given (put the file that vouches for the others last); when it raises, the
    temporary files are removed and the targets are left as they were. Nobody ever reads a
    half-written file.
    """
    temporaries = [path.with_name(f".{path.name}.{os.getpid()}.tmp") for path in paths]
    try:
        yield temporaries
        for temporary, path in zip(temporaries, paths, strict=True):
            os.replace(temporary, path)
    finally:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)


def replace_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`replacing`)."""
    with replacing(Path(path)) as (temporary,):
        temporary.write_text(text)


def sha256(path: Path) -> str:
    """The SHA-256 digest of the file at ``path`` (hex)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@contextmanager
def writer(out: Path, figure_id: str) -> Iterator[None]:
    """Hold the right to write ``figure_id``'s files (and checkpoints) in ``out``, creating it.

    A second holder, in this or another process, is refused with a :class:`ReproduceError`. The
    lock is an ``flock`` on ``out/.ID.lock``, which the system releases when its process ends,
    however it ends: a killed run never leaves the folder locked. Temporary files that a killed
    writer of this figure left behind are removed.
    """
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        handle = (out / f".{figure_id}.lock").open("a")
    except (FileExistsError, NotADirectoryError):
        raise ReproduceError(f"out: {out} is not a folder (a file has that name or stands in its path)") from None
    except OSError as error:
        raise ReproduceError(f"out: cannot write into {out} ({error.strerror})") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ReproduceError(
                f"out: another run is writing {figure_id} into {out}; wait for it to end, or choose another --out"
            ) from None
        for stale in out.glob(".*.tmp"):
            if stale.name.lstrip(".").startswith(f"{figure_id}."):  # also temporaries of temporaries
                stale.unlink()
        yield
