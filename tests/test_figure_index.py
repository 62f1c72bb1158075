"""The figure index page is generated from each figure's committed provenance, not typed in."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from recovery.book import figures

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("figure_index", ROOT / "book" / "_ext" / "figure_index.py")
figure_index = importlib.util.module_from_spec(spec)
spec.loader.exec_module(figure_index)


def test_every_figure_has_an_entry_with_its_recorded_provenance():
    text = figure_index.index(ROOT / "results" / "paper")
    entries = text.split("(index-")[1:]
    assert [entry.partition(")=")[0] for entry in entries] == [
        spec.id for spec in sorted(figures.registry().values(),
                                   key=lambda spec: (figures.CHAPTERS.index(spec.notebook), spec.id))]
    for entry in entries:
        figure_id = entry.partition(")=")[0]
        record = json.loads((ROOT / "results" / "paper" / f"{figure_id}.json").read_text())
        assert f"commit `{record['git']['commit'][:10]}`" in entry
        assert f"`recovery reproduce {figure_id} --scale paper --out results/paper`" in entry
        assert f"({record['rows']} rows)" in entry
        assert f":::{{image}} ../results/paper/{figure_id}.png" in entry


def test_the_paper_figure_is_read_from_the_claim():
    assert figure_index._reproduces("Theorem 4.10 (flat-minima paper): ... does (Figure 3a).") == (
        "Figure 3a of paper A; Theorem 4.10 (paper A)")
    assert figure_index._reproduces("Claim 4 (lin-RFM paper): faster.") == "Claim 4 (paper B) (no figure of the paper)"
    assert figure_index._duration(1385.3) == "23 min 5 s"
    assert figure_index._duration(3.2) == "3 s"
    assert figure_index._duration(7300) == "2 h 1 min"
