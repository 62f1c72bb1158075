"""The package's architecture holds: data flow one way, and no module reads repository files.

Layers, lowest first: ``core``; the algorithms (``convex``, then ``flat`` and ``rfm``); the
user-facing API; ``experiments``; ``book``. A module may import its own layer and those below,
never one above; ``flat`` and ``rfm`` (the two papers) do not import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import recovery

PACKAGE = Path(recovery.__file__).resolve().parent
MAY_IMPORT = {
    "core": {"core"},
    "convex": {"core", "convex"},
    "flat": {"core", "convex", "flat"},
    "rfm": {"core", "convex", "rfm"},
    "api": {"core", "convex", "flat", "rfm", "api"},
    "experiments": {"core", "convex", "flat", "rfm", "api", "experiments"},
    "book": {"core", "convex", "flat", "rfm", "api", "experiments", "book"},
}
MODULES = sorted(path for path in PACKAGE.rglob("*.py") if path.name != "__init__.py" or path.parent != PACKAGE)


def layer(parts: tuple[str, ...]) -> str:
    """The layer of ``recovery.<parts>``: its subpackage, or ``api`` for a top-level module."""
    return parts[0] if parts[0] in MAY_IMPORT else "api"


def recovery_imports(path: Path) -> set[tuple[str, ...]]:
    """The ``recovery.*`` names a module imports, as tuples of parts below ``recovery``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "recovery":
            base = tuple(node.module.split(".")[1:])
            found |= {base or (alias.name,) for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {tuple(a.name.split(".")[1:]) for a in node.names if a.name.startswith("recovery.")}
    return {parts for parts in found if parts}


def test_the_layers_cover_every_subpackage():
    subpackages = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").is_file()}
    assert subpackages <= set(MAY_IMPORT)


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_nothing_imports_upwards(path):
    own = layer(path.relative_to(PACKAGE).parts)
    upward = {".".join(parts) for parts in recovery_imports(path) if layer(parts) not in MAY_IMPORT[own]}
    assert upward == set(), f"the {own} layer imports from above it"


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_module_locates_repository_files_through_its_own_path(path):
    """Data reach the library as arguments; only provenance asks git about the checkout of the code."""
    if path.relative_to(PACKAGE).parts == ("book", "provenance.py"):
        pytest.skip("provenance records the git state of the code's own checkout")
    assert "__file__" not in path.read_text()


def test_the_layer_rule_can_fail(tmp_path):
    upward = tmp_path / "bad.py"
    upward.write_text("from recovery.book import figures\nfrom recovery.core import problems\n")
    assert {layer(parts) for parts in recovery_imports(upward)} == {"book", "core"}
