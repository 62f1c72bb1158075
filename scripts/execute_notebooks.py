"""Re-execute notebooks in place, top to bottom, so that they can be committed with outputs.

Usage: python scripts/execute_notebooks.py notebooks/NAME.ipynb [...]   (or `make execute`)

Each notebook runs in its own directory with a fresh kernel. No per-cell timing metadata is
recorded and consecutive stream outputs are merged, so re-executing an unchanged notebook
changes nothing but wall-clock timings in its printed text.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def merge_streams(outputs: list) -> list:
    """Join consecutive stdout (or stderr) outputs into one, as a reader sees them."""
    merged: list = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            output.output_type == "stream"
            and previous is not None
            and previous.output_type == "stream"
            and previous.name == output.name
        ):
            previous.text += output.text
        else:
            merged.append(output)
    return merged


def execute(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    client = NotebookClient(
        notebook,
        timeout=1800,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = merge_streams(cell.outputs)
    nbformat.write(notebook, path)
    print(f"executed {path}")


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        execute(Path(argument))
