"""The claims registry: verdict words derived from evidence, portable keys, the listing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from recovery.book import cli, figures
from recovery.experiments import claims

RESULTS = Path(__file__).resolve().parents[1] / "results"


def claim(reference="paper A, Theorem 4.10", **evidence):
    return claims.Claim("toy", reference, "errors are small", "largest error",
                        lambda rows, params: claims.Evidence(key="k", **evidence))


@pytest.mark.parametrize(("reference", "evidence", "word"), [
    ("paper A, Theorem 4.10", {"holds": True}, "reproduced"),
    ("paper A, Theorem 4.10", {"holds": True, "stronger": True}, "reproduced, stronger"),
    ("paper B, claim 4", {"holds": False, "partly": True}, "partly"),
    ("paper B, claim 4", {"holds": False}, "not reproduced"),
    ("companion", {"holds": True}, "new"),
    ("companion", {"holds": True, "stronger": True}, "new"),
    ("companion", {"holds": False}, "not reproduced"),
])
def test_the_word_follows_from_the_evidence(reference, evidence, word):
    verdict = claim(reference, **evidence).evaluate([], {})
    assert verdict == claims.Verdict("toy", word, "k", "")


def test_bad_claims_and_verdicts_are_refused():
    with pytest.raises(ValueError, match="word"):
        claims.Verdict("toy", "confirmed", "k", "")
    with pytest.raises(ValueError, match="statement"):
        claims.Claim("toy", "companion", " ", "q", lambda rows, params: None)
    not_evidence = claims.Claim("toy", "companion", "s", "q", lambda rows, params: True)
    with pytest.raises(TypeError, match="Evidence"):
        not_evidence.evaluate([], {})


@pytest.mark.parametrize(("value", "text"), [
    (3.2e-11, "< 1e-10"), (9.9e-11, "< 1e-10"), (0.5, "< 1e+00"), (-6.66e-16, "< 1e-12"),
    (5.57e-15, "< 1e-12"), (3.23e-15, "< 1e-12"), (math.inf, "inf"), (12.0, "< 1e+02"),
])
def test_bounds_hide_round_off(value, text):
    assert claims.bound(value, floor=1e-12) == text
    if math.isfinite(value) and abs(value) >= 1e-12:
        assert abs(value) < float(text.removeprefix("< "))


def test_report_reads_as_text_and_markdown():
    verdicts = [claims.Verdict("a-claim", "reproduced", "9 of 10", "x | y"),
                claims.Verdict("b", "partly", "3 of 10", "")]
    toy = claim()
    report = claims.Report([(toy, verdicts[0]), (toy, verdicts[1])], "Live run")
    assert not report.holds
    assert repr(report).splitlines() == ["Live run", "a-claim  reproduced            9 of 10",
                                         "b        partly                3 of 10"]
    markdown = report._repr_markdown_()
    assert "| errors are small <br><small>`a-claim`</small> | paper A, Theorem 4.10 | **reproduced** | 9 of 10 |" in markdown
    assert claims.Report([(toy, verdicts[0])]).holds


def test_claim_ids_are_unique_across_figures():
    spec = figures.get(next(iter(figures.registry())))
    copy = figures.FigureSpec("another-figure", "nb", "c", spec.scales, spec.compute, spec.plot,
                              claims=spec.claims[:1])
    with pytest.raises(ValueError, match="claim ids"):
        figures.register(copy)


def test_every_chapter_has_claims_and_every_reference_names_its_source():
    registry = figures.all_claims()
    notebooks = {spec.notebook for spec, _ in registry.values()}
    assert notebooks == {spec.notebook for spec in figures.registry().values()}
    assert len(notebooks) == 15
    for claim_id, (_, claim) in registry.items():
        assert claim.companion or claim.reference.startswith(("paper A", "paper B")), claim_id


def test_cli_lists_claims_with_their_verdicts(capsys):
    assert cli.main(["claims", "--results", str(RESULTS / "paper")]) == 0
    text = capsys.readouterr().out
    assert cli.main(["claims", "--json", "--results", str(RESULTS / "paper")]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [entry["id"] for entry in listed] == list(figures.all_claims())
    for entry in listed:
        assert entry["verdict"] in claims.VOCABULARY
        assert entry["id"] in text and entry["figure"] in text
        assert set(entry) >= {"reference", "statement", "quantity", "key", "why", "notebook", "difference"}
    assert cli.main(["claims", "--results", "/nonexistent"]) == 2
    assert "results" in capsys.readouterr().err


def test_claims_are_listed_in_the_book_s_reading_order():
    toc = (Path(__file__).parents[1] / "_toc.yml").read_text()
    chapters = [f"{line.split('file:')[1].strip()}.ipynb" for line in toc.splitlines()
                if "file: notebooks/" in line]
    assert list(figures.CHAPTERS) == chapters
    order = [figures.CHAPTERS.index(spec.notebook) for spec, _ in figures.all_claims().values()]
    assert order == sorted(order)


def test_a_figure_outside_the_book_s_chapters_is_refused():
    spec = figures.get(next(iter(figures.registry())))
    stray = figures.FigureSpec("stray-figure", "notebooks/not_a_chapter.ipynb", "c", spec.scales,
                               spec.compute, spec.plot)
    with pytest.raises(ValueError, match="not a chapter"):
        figures.register(stray)


@pytest.mark.parametrize(("total", "fraction", "allowed"), [(640, 0.02, 13), (45, 0.02, 1), (10, 0.3, 3), (0, 0.02, 1)])
def test_a_count_allowance_is_a_share_of_the_trials_and_at_least_one(total, fraction, allowed):
    assert claims.allowance(total, fraction) == allowed


def network_rows(flat, nuclear, trials=4):
    """Toy flat-network rows: ``flat[c]`` and ``nuclear[c]`` successes of ``trials`` in cell ``c``."""
    return [{"model": "network", "d": 12, "m": cell, "method": method, "success": trial < counts[cell]}
            for method, counts in (("flat", flat), ("nuclear", nuclear), ("min-norm", [0] * len(flat)))
            for cell in range(len(flat)) for trial in range(trials)]


@pytest.mark.parametrize(("flat", "nuclear", "word"), [
    ([4, 4, 3, 4, 4, 4, 4, 4], [4] * 8, "reproduced"),                  # one trial behind of 32
    ([4, 4, 3, 3, 4, 4, 4, 4], [4] * 8, "not reproduced"),              # two behind: more than 2%, at least one
    ([4, 4, 2, 4, 4, 4, 4, 4], [4, 4, 4, 4, 4, 4, 4, 3], "not reproduced"),  # half a cell behind
    ([4] * 8, [4] * 8, "reproduced"),
    ([4] * 8, [4, 4, 2, 4, 4, 4, 4, 4], "reproduced, stronger"),
])
def test_network_claim_allows_one_trial_of_slack_overall(flat, nuclear, word):
    claim = figures.all_claims()["flat-network-recovers"][1]
    assert claim.evaluate(network_rows(flat, nuclear), {}).word == word


def test_rows_that_cannot_decide_a_claim_say_so_instead_of_a_verdict():
    lacking = claims.Claim("toy", "paper A, Theorem 4.10", "errors are small", "largest error",
                           lambda rows, params: claims.Evidence.undecided("one size only"))
    verdict = lacking.evaluate([], {})
    assert (verdict.word, verdict.key, verdict.decided) == (claims.UNDECIDED, "one size only", False)
    assert claims.Report([(lacking, verdict)]).holds  # nothing decided, nothing failed
    failing = claim(holds=False)
    assert not claims.Report([(lacking, verdict), (failing, failing.evaluate([], {}))]).holds


def test_timing_claims_are_decided_on_committed_records_only():
    calls = []
    timed = claims.Claim("timed", "paper B, claim 4", "ours is faster", "seconds per iteration",
                         lambda rows, params: calls.append(rows) or claims.Evidence(True, "3 of 3"), timing=True)
    assert timed.evaluate([{"seconds": 1.0}], {}).word == claims.UNDECIDED and not calls
    assert timed.evaluate([{"seconds": 1.0}], {}, recorded=True).word == "reproduced" and len(calls) == 1


def test_every_claim_is_decided_on_the_committed_paper_scale_data():
    for entry in cli.claim_entries(RESULTS / "paper"):
        assert entry["verdict"] in claims.VOCABULARY, (entry["id"], entry["key"])


def sparse_rows(errors):
    """Toy sparse-regression rows: ``errors[(method, parameter)][n]`` lists the trials' errors."""
    return [{"method": method, "parameter": parameter, "n": n, "trial": trial, "relative_error": error}
            for (method, parameter), by_n in errors.items() for n, trial_errors in by_n.items()
            for trial, error in enumerate(trial_errors)]


@pytest.mark.parametrize(("quarter", "word"), [
    ({10: [1, 1], 20: [0, 0], 30: [0, 0]}, "reproduced"),        # both from n = 20
    ({10: [1, 1], 20: [1, 1], 30: [0, 0]}, "partly"),            # later, but recovers at the largest n
    ({10: [1, 1], 20: [1, 1], 30: [1, 0]}, "not reproduced"),    # later, and fewer at the largest n
    ({10: [1, 1], 20: [1, 1], 30: [1, 1]}, "not reproduced"),    # never
])
def test_same_samples_compares_thresholds_and_the_largest_n(quarter, word):
    from recovery.experiments import sparse_regression
    l1 = {10: [1, 1], 20: [0, 0], 30: [0, 0]}
    check = sparse_regression.same_samples(("lin-rfm", 0.25), ("l1", 1.0), ("lin-RFM 1/4", "l1"))
    toy = claims.Claim("toy", "paper B, claim 2", "s", "q", check)
    rows = sparse_rows({("lin-rfm", 0.25): quarter, ("l1", 1.0): l1})
    assert toy.evaluate(rows, {"threshold": 1e-2}).word == word
    assert toy.evaluate(sparse_rows({("l1", 1.0): l1}), {"threshold": 1e-2}).word == claims.UNDECIDED


@pytest.mark.parametrize(("change", "gradient", "word"), [
    (1e-14, 1e-9, "reproduced"),
    (1e-14, 1e-3, "not reproduced"),    # settled, and not stationary
    (1e-4, 1e-3, claims.UNDECIDED),     # still moving: the run cannot decide
])
def test_stationarity_is_judged_on_settled_runs_only(change, gradient, word):
    claim = figures.all_claims()["linrfm-irls-stationary"][1]
    rows = [{"problem": "vector", "alpha": 0.5, "iteration": t, "change": 1e-16, "constrained_gradient": 1e-15}
            for t in range(3)]
    rows += [{"problem": "matrix", "alpha": 0.5, "iteration": 2, "change": change, "constrained_gradient": gradient}]
    assert claim.evaluate(rows, {}).word == word
