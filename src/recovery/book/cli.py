"""The ``recovery`` command: list the book's figures and claims, regenerate any figure, or redraw it from its data."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from recovery.book import figures


def _list(_: argparse.Namespace) -> int:
    for figure_id, spec in figures.registry().items():
        print(figure_id)
        print(f"  notebook: {spec.notebook}")
        print(f"  scales:   {', '.join(spec.scales)}")
        print(textwrap.fill(spec.claim, width=96, initial_indent="  claim:    ",
                            subsequent_indent="            "))
    return 0


def _claims(args: argparse.Namespace) -> int:
    entries = claim_entries(args.results)
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    for entry in entries:
        print(f"{entry['id']}  [{entry['verdict']}]  {entry['key']}")
        print(f"  {entry['reference']}; figure {entry['figure']}, {entry['notebook']}")
        print(textwrap.fill(entry["statement"], width=96, initial_indent="  ", subsequent_indent="  "))
    return 0


def claim_entries(results: str | Path) -> list[dict[str, str]]:
    """Every claim of the book evaluated on the committed data in ``results`` (one dict each)."""
    results = Path(results)
    if not results.is_dir():
        raise ValueError(f"results: no folder {results} (run from the repository root, or pass --results)")
    verdicts = {}
    for figure_id, spec in figures.registry().items():
        if spec.claims:
            verdicts.update({v.claim: v for v in figures.committed_report(figure_id, results).verdicts})
    return [
        {"id": claim.id, "verdict": verdicts[claim.id].word, "key": verdicts[claim.id].key,
         "why": verdicts[claim.id].why, "reference": claim.reference, "statement": claim.statement,
         "quantity": claim.quantity, "difference": claim.difference, "figure": spec.id,
         "notebook": spec.notebook}
        for claim_id, (spec, claim) in figures.all_claims().items()
    ]


def _reproduce(args: argparse.Namespace) -> int:
    path = figures.reproduce(args.figure_id, scale=args.scale, out=args.out, jobs=args.jobs,
                             device=args.device, restart=args.restart, progress=True)
    record = json.loads(path.read_text())
    resumed = f", {record['resumed_units']} of them from an interrupted run" if record["resumed_units"] else ""
    print(f"{args.figure_id} ({args.scale}): {record['rows']} rows in "
          f"{record['runtime_seconds']:.2f} s ({record['units']} units{resumed}, {record['jobs']} jobs)")
    for suffix in ("csv", "json", "svg", "png"):
        print(f"  wrote {path.with_suffix('.' + suffix)}")
    return 0


def _redraw(args: argparse.Namespace) -> int:
    path = figures.redraw(args.figure_id, args.out)
    print(f"{args.figure_id}: redrew {path} and {path.with_suffix('.png')} from {path.with_suffix('.csv')}")
    return 0


def parser() -> argparse.ArgumentParser:
    """Build the argument parser (exposed for documentation and tests)."""
    top = argparse.ArgumentParser(
        prog="recovery",
        description="Regenerate the figures of the low-rank recovery companion.",
    )
    commands = top.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="figure ids, their notebook, claim and scales")
    listing.set_defaults(run=_list)
    listed = commands.add_parser("claims", help="every claim of the book with its verdict on the committed data")
    listed.add_argument("--results", default="results/paper",
                        help="folder of committed figure data (default: results/paper)")
    listed.add_argument("--json", action="store_true", help="machine-readable output")
    listed.set_defaults(run=_claims)
    again = commands.add_parser("reproduce", help="run one figure's experiment and export it")
    again.add_argument("figure_id", metavar="ID", help="a figure id from `recovery list`")
    again.add_argument("--scale", default="ci", help="parameter set: ci (minutes) or paper")
    again.add_argument("--out", default=".", help="directory for ID.{csv,json,svg,png}")
    again.add_argument("--jobs", type=int, default=1,
                       help="units of work run in parallel processes, at most one per unit and core (default 1; "
                            "-1: one per core); an interrupted run repeated with the same --out resumes where it "
                            "stopped")
    again.add_argument("--device", default=None,
                       help="cpu or cuda[:N], for figures whose experiments take a device "
                            "(default: the figure's own)")
    again.add_argument("--restart", action="store_true",
                       help="discard the checkpoint of an interrupted run in --out and compute every unit afresh")
    again.set_defaults(run=_reproduce)
    redraw = commands.add_parser("redraw", help="redraw ID.{svg,png} from committed ID.{csv,json}")
    redraw.add_argument("figure_id", metavar="ID", help="a figure id from `recovery list`")
    redraw.add_argument("--out", default=".", help="directory holding ID.csv and ID.json")
    redraw.set_defaults(run=_redraw)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``recovery`` console script."""
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except ValueError as error:  # figures.ReproduceError and every other refused input
        print(f"recovery: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("recovery: interrupted; repeat the command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
