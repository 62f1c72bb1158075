"""The book's API reference documents every public module of the package."""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import recovery

API_PAGE = Path(__file__).resolve().parents[1] / "book" / "api.md"


def test_every_public_module_is_in_the_api_reference():
    documented = set(re.findall(r"^\.\. automodule:: (\S+)$", API_PAGE.read_text(), flags=re.M))
    public = {"recovery"} | {
        info.name
        for info in pkgutil.walk_packages(recovery.__path__, prefix="recovery.")
        if not any(part.startswith("_") for part in info.name.split("."))
    }
    assert public - documented == set(), "add these modules to book/api.md"
    assert documented - public == set(), "book/api.md names modules that do not exist"
