"""The ``perfstream`` command line: demo, evaluate and replay.

Errors a user can cause (a missing file, a wrong kind, an unknown strategy, a malformed line) end
with one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from pipeline.schemas import InvalidEvent
from pipeline.sources import DEFAULT_TARGET, KINDS, SourceError, open_source
from pipeline.sources.synthetic import SyntheticCluster

DEFAULT_STRATEGIES = "naive,frozen,median,last2,cumulative,replay,select"
DEMO_STRATEGIES = "naive,frozen,last2,replay,select"  # cumulative's refits would take it past a minute


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="perfstream", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="the synthetic cluster through the Processor: table and plots")
    demo.add_argument("--jobs", type=int, default=40_000, help="synthetic jobs (default 40000)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--report", default="perfstream-demo", help="report folder (default ./perfstream-demo)")
    demo.add_argument("--strategies", default=DEMO_STRATEGIES, help=f"comma list (default {DEMO_STRATEGIES})")

    evaluate = commands.add_parser("evaluate", help="compare strategies on a source under the protocol")
    _source_arguments(evaluate)
    evaluate.add_argument("--target", help="outcome to predict (default: runtime_s; io_throughput_mibps for tokio)")
    evaluate.add_argument("--strategies", default=DEFAULT_STRATEGIES, help=f"comma list (default {DEFAULT_STRATEGIES})")
    evaluate.add_argument("--tasks", default="4", help="N equal time slices, or cut dates YYYY-MM-DD,YYYY-MM-DD")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--json", help="write the report as JSON here")
    evaluate.add_argument("--report", help="write report.json, table.txt and plots into this folder")

    replay = commands.add_parser("replay", help="run a source through the Processor, write its output records")
    _source_arguments(replay)
    replay.add_argument("--out", required=True, help="output .jsonl of prediction and metrics records")
    replay.add_argument("--strategy", default="default")
    replay.add_argument("--targets", default=None, help="comma list (default as for evaluate)")
    return parser


def _source_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("source", help="a .swf[.gz], TOKIO .csv[.gz] or .jsonl file, or 'synthetic'")
    command.add_argument("--kind", choices=KINDS, help="source kind (default: from the file name)")
    command.add_argument("--lenient", action="store_true", help="skip malformed lines and count them")
    command.add_argument("--jobs", type=int, default=100_000, help="jobs for --kind synthetic")
    command.add_argument("--quiet", action="store_true", help="no progress bar")


def _load(args: argparse.Namespace, seed: int = 0):
    source = open_source(args.source, args.kind, lenient=args.lenient, seed=seed, n_jobs=args.jobs)
    events = list(tqdm(source, desc=f"reading {Path(args.source).name}", unit="ev", unit_scale=True,
                       disable=True if args.quiet else None))
    return source, events


def _compare_and_write(events, source, target, strategies, tasks, seed, label, report_dir, json_path,
                       progress, command) -> dict:
    from pipeline.evaluation.compare import compare
    from pipeline.evaluation.plots import plot_rolling_error, plot_task_matrices
    from pipeline.evaluation.report import format_table, write_json
    from pipeline.evaluation.tasks import parse_tasks

    report, runs, workload = compare(events, target, strategies, parse_tasks(tasks), seed, label, progress)
    report["source_stats"] = source.stats.as_dict()
    report["command"] = command
    if isinstance(source, SyntheticCluster):
        report["ground_truth"] = source.truth
    table = format_table(report)
    print(table)
    if json_path:
        write_json(report, json_path)
    if report_dir:
        folder = Path(report_dir)
        folder.mkdir(parents=True, exist_ok=True)
        write_json(report, folder / "report.json")
        (folder / "table.txt").write_text(table + "\n")
        plot_rolling_error(runs, workload, folder / "rolling_error.png")
        plot_task_matrices(report, folder / "task_matrix.png")
        print(f"report: {folder}/report.json, table.txt, rolling_error.png, task_matrix.png")
    return report


def _evaluate(args: argparse.Namespace) -> None:
    source, events = _load(args, args.seed)
    target = args.target or DEFAULT_TARGET[source.kind]
    _compare_and_write(events, source, target, _csv(args.strategies), args.tasks, args.seed,
                       Path(args.source).name, args.report, args.json, not args.quiet, _command())


def _demo(args: argparse.Namespace) -> None:
    source = SyntheticCluster(n_jobs=args.jobs, seed=args.seed)
    events = list(tqdm(source, desc="synthetic cluster", unit="ev", unit_scale=True, disable=None))
    print(f"synthetic cluster: {source.stats.jobs} jobs on {', '.join(source.systems)}, "
          f"{len(source.truth)} scripted changes")
    _compare_and_write(events, source, "runtime_s", _csv(args.strategies), "4", args.seed,
                       f"synthetic cluster ({args.jobs} jobs, seed {args.seed})", args.report, None, True,
                       _command())


def _replay(args: argparse.Namespace) -> None:
    from pipeline.processor import Processor

    source = open_source(args.source, args.kind, lenient=args.lenient, n_jobs=args.jobs)
    targets = _csv(args.targets) if args.targets else [DEFAULT_TARGET[source.kind]]
    processor = Processor(args.strategy, targets)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with out.open("w") as sink:
        for event in tqdm(source, desc="replaying", unit="ev", unit_scale=True,
                          disable=True if args.quiet else None):
            for record in processor.handle(event):
                sink.write(json.dumps(record) + "\n")
                written += 1
    print(f"{written} records from {source.stats.jobs} jobs written to {out}"
          f" (skipped: {dict(source.stats.skipped) or 'none'})")


def _command() -> str:
    return shlex.join(["perfstream", *sys.argv[1:]])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``perfstream`` console script."""
    from pipeline.learning.registry import UnknownStrategy

    args = _parser().parse_args(argv)
    handlers = {"demo": _demo, "evaluate": _evaluate, "replay": _replay}
    try:
        handlers[args.command](args)
    except (OSError, SourceError, InvalidEvent, ValueError, UnknownStrategy) as error:
        print(f"perfstream: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("perfstream: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
