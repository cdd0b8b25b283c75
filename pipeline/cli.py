"""The ``perfstream`` command line: demo, evaluate, replay, fetch, and the Kafka worker, topics, publish, tail.

Errors a user can cause (a missing file, a wrong kind, an unknown strategy, a malformed line) end
with one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tqdm import tqdm

from pipeline.schemas import InvalidEvent
from pipeline.sources import DEFAULT_TARGET, KINDS, Source, SourceError, open_source
from pipeline.sources.synthetic import SyntheticCluster
from pipeline.sources.timeline import Event

if TYPE_CHECKING:  # heavy imports (numpy, matplotlib, kafka) happen where used, so other commands start fast
    from pipeline.evaluation.protocol import StrategyRun, Workload
    from pipeline.service.slurm_annotate import Annotated
    from pipeline.service.slurm_bridge import Tally

TallyT = TypeVar("TallyT", "Tally", "Annotated")  # what a Slurm feed counts

DEFAULT_STRATEGIES = "naive,frozen,median,last2,cumulative,replay,select,consensus"
DEMO_STRATEGIES = "naive,frozen,last2,replay,consensus"  # cumulative's refits would take it past a minute


def _seeds(text: str) -> list[int]:
    """``--seeds``: two or more distinct integers, comma-separated."""
    try:
        seeds = [int(seed) for seed in _csv(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma list of integers: {text!r}") from None
    if len(seeds) < 2 or len(set(seeds)) < len(seeds):
        raise argparse.ArgumentTypeError(f"needs two or more distinct seeds: {text!r}")
    return seeds


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
    seeding = evaluate.add_mutually_exclusive_group()
    seeding.add_argument("--seed", type=int, default=0, help="seed of the held-out split (and of a synthetic cluster)")
    seeding.add_argument("--seeds", type=_seeds, help="comma list, e.g. 0,1,2: evaluate once per seed, then "
                                                      "report how far each number moved between them")
    evaluate.add_argument("--json", help="write the report as JSON here (with --seeds: every seed's and the spread)")
    evaluate.add_argument("--report", help="write report.json, table.txt and plots into this folder "
                                           "(with --seeds: one folder per seed, across_seeds.json and .png)")
    evaluate.add_argument("--blank", default="", help="stress test: leave these job fields out of every event, "
                                                      "e.g. requested_walltime_s,user or features.partition")

    replay = commands.add_parser("replay", help="run a source through the Processor, write its output records")
    _source_arguments(replay)
    replay.add_argument("--out", required=True, help="output .jsonl of prediction and metrics records")
    replay.add_argument("--strategy", default="default")
    replay.add_argument("--targets", default=None, help="comma list (default as for evaluate)")
    fetch = commands.add_parser("fetch", help="download public traces: the development data, checked by SHA-256")
    fetch.add_argument("names", nargs="*", help="file names from --list (default: the development data)")
    fetch.add_argument("--list", action="store_true", help="list the known traces and exit")
    fetch.add_argument("--to", default=os.environ.get("PERFSTREAM_DATA", "perfstream-data"),
                       help="data directory; SWF logs go to traces/, TOKIO to tokio/ (default: $PERFSTREAM_DATA "
                            "or ./perfstream-data)")
    fetch.add_argument("--mirror", default=os.environ.get("PERFSTREAM_MIRROR"),
                       help="download from this base URL + file name instead (a local copy; PERFSTREAM_MIRROR)")
    fetch.add_argument("--url", help="download this other file into --to instead")
    fetch.add_argument("--sha256", help="with --url: the file's expected SHA-256")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    _kafka_commands(commands)
    return parser


def _worker_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from pipeline.service.config import add_kafka_arguments, env

    worker = commands.add_parser("worker", help="the Kafka service: consume events, publish predictions")
    add_kafka_arguments(worker)
    worker.add_argument("--group", default=env("GROUP", "perfstream"), help="consumer group (PERFSTREAM_GROUP)")
    worker.add_argument("--strategy", default=env("STRATEGY", "default"), help="(PERFSTREAM_STRATEGY)")
    worker.add_argument("--targets", default=env("TARGETS", "runtime_s"), help="comma list (PERFSTREAM_TARGETS)")
    worker.add_argument("--checkpoint-every-events", type=int, default=env("CHECKPOINT_EVERY_EVENTS", "50000"),
                        help="per partition (PERFSTREAM_CHECKPOINT_EVERY_EVENTS, default 50000)")
    worker.add_argument("--checkpoint-every-seconds", type=float,
                        default=env("CHECKPOINT_EVERY_SECONDS", "60"),
                        help="(PERFSTREAM_CHECKPOINT_EVERY_SECONDS, default 60)")
    worker.add_argument("--checkpoint-key-file", default=env("CHECKPOINT_KEY_FILE"),
                        help="file with the HMAC key (PERFSTREAM_CHECKPOINT_KEY_FILE); "
                             "else the variable PERFSTREAM_CHECKPOINT_KEY")
    worker.add_argument("--previous-checkpoint-key-file", default=env("PREVIOUS_CHECKPOINT_KEY_FILE"),
                        help="during a key rotation: file with the old key, still accepted when loading "
                             "(PERFSTREAM_PREVIOUS_CHECKPOINT_KEY_FILE; else PERFSTREAM_PREVIOUS_CHECKPOINT_KEY)")
    worker.add_argument("--metrics-port", type=int, default=env("METRICS_PORT", "9108"),
                        help="Prometheus endpoint port (PERFSTREAM_METRICS_PORT, default 9108)")
    worker.add_argument("--metrics-address", default=env("METRICS_ADDRESS", "0.0.0.0"),
                        help="bind address (PERFSTREAM_METRICS_ADDRESS, default 0.0.0.0)")
    worker.add_argument("--max-wait", type=float, default=env("MAX_WAIT", "1.0"),
                        help="seconds an event waits for a lagging input topic (PERFSTREAM_MAX_WAIT)")
    worker.add_argument("--order-grace", type=float, default=env("ORDER_GRACE", "0.01"),
                        help="seconds an event is held for other topics' stragglers when they look caught up "
                             "(PERFSTREAM_ORDER_GRACE, default 0.01)")
    worker.add_argument("--loglevel", default=env("LOGLEVEL", "info"))


def _kafka_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from pipeline.service.config import add_kafka_arguments, env

    _worker_command(commands)
    health = commands.add_parser("health", help="exit 0 if a worker's event loop is alive (for probes)")
    health.add_argument("--url", default=f"http://127.0.0.1:{env('METRICS_PORT', '9108')}/metrics",
                        help="the worker's metrics endpoint (default: this host, PERFSTREAM_METRICS_PORT or 9108)")
    health.add_argument("--max-age", type=float, default=30.0, help="seconds without a heartbeat that count as dead")

    topics = commands.add_parser("topics", help="create the topics of topics.yaml, or check the cluster's")
    topics.add_argument("action", choices=("create", "check"))
    add_kafka_arguments(topics)

    publish = commands.add_parser("publish", help="replay a source into the input topics in time order")
    _source_arguments(publish)
    add_kafka_arguments(publish)
    pace = publish.add_mutually_exclusive_group()
    pace.add_argument("--speedup", type=float, help="replay at X times the events' own pace")
    pace.add_argument("--rate", type=float, help="replay at N events per second")
    publish.add_argument("--limit", type=int, help="stop after this many events")

    slurm = commands.add_parser("slurm", help="Slurm's job records into the input topics")
    feeds = slurm.add_subparsers(dest="feed", required=True)
    sacct = feeds.add_parser("sacct", help="run sacct over a time window (again every --follow seconds)")
    sacct.add_argument("--since", default="now-1hours", help="sacct --starttime (default now-1hours)")
    sacct.add_argument("--follow", type=float, metavar="SECONDS", help="ask again this often, forever")
    sacct.add_argument("--completion", action="store_true",
                       help="read the jobcomp/filetxt log (sacct --completion) where there is no slurmdbd")
    sacct.add_argument("--pending", action="store_true",
                       help="also publish each unfinished job's submission as soon as sacct lists it, so that "
                            "its prediction comes before it ends (needs slurmdbd)")
    jobcomp = feeds.add_parser("jobcomp", help="consume the records of Slurm's jobcomp/kafka plugin")
    jobcomp.add_argument("--from-topic", required=True, help="the plugin's topic (its name as Slurm writes it)")
    jobcomp.add_argument("--group", default=env("SLURM_GROUP", "perfstream-slurm-jobcomp"),
                         help="consumer group (PERFSTREAM_SLURM_GROUP)")
    jobcomp.add_argument("--idle-timeout", type=float, help="stop after this many seconds without a record")
    annotate = feeds.add_parser("annotate", help="write each waiting job's prediction into its Slurm AdminComment")
    annotate.add_argument("--system", required=True, help="the Slurm cluster's system name in the predictions")
    annotate.add_argument("--target", default="runtime_s", help="which prediction to write (default runtime_s)")
    annotate.add_argument("--group", default=env("SLURM_ANNOTATE_GROUP", "perfstream-slurm-annotate"),
                          help="consumer group (PERFSTREAM_SLURM_ANNOTATE_GROUP)")
    annotate.add_argument("--max-age", type=float, default=86_400.0,
                          help="pass over predictions older than this many seconds (default one day)")
    annotate.add_argument("--idle-timeout", type=float, help="stop after this many seconds without a record")
    for feed in (sacct, jobcomp):
        feed.add_argument("--system", help="the system's name (default: the record's cluster)")
    # the annotator gets a variable of its own: it may share slurm.env and a host with a bridge
    for feed, port in ((sacct, "SLURM_METRICS_PORT"), (jobcomp, "SLURM_METRICS_PORT"),
                       (annotate, "SLURM_ANNOTATE_METRICS_PORT")):
        feed.add_argument("--metrics-port", type=int, default=env(port),
                          help=f"serve Prometheus series on this port (PERFSTREAM_{port}; default: none)")
        feed.add_argument("--metrics-address", default=env("METRICS_ADDRESS", "0.0.0.0"),
                          help="bind address (PERFSTREAM_METRICS_ADDRESS, default 0.0.0.0)")
        add_kafka_arguments(feed)

    tail = commands.add_parser("tail", help="print a topic's records as they arrive")
    tail.add_argument("topic")
    add_kafka_arguments(tail)
    tail.add_argument("--system", help="only this system's records")
    tail.add_argument("--from-beginning", action="store_true")
    tail.add_argument("--idle-timeout", type=float, help="stop after this many seconds without a record")


def _source_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("source", help="a .swf[.gz], TOKIO .csv[.gz], .jsonl or `sacct --parsable2` output "
                                        "(.sacct) file, or 'synthetic'")
    command.add_argument("--system", help="the system's name where the file has none (default: the SWF or TOKIO file "
                                          "name, the Cluster column of sacct)")
    command.add_argument("--kind", choices=KINDS, help="source kind (default: from the file name)")
    command.add_argument("--lenient", action="store_true", help="skip malformed lines and count them")
    command.add_argument("--jobs", type=int, default=100_000, help="jobs for --kind synthetic")
    command.add_argument("--quiet", action="store_true", help="no progress bar")


def _load(args: argparse.Namespace, seed: int = 0) -> tuple[Source, list[Event]]:
    source = open_source(args.source, args.kind, lenient=args.lenient, seed=seed, n_jobs=args.jobs,
                         system=args.system)
    events = list(tqdm(source, desc=f"reading {Path(args.source).name}", unit="ev", unit_scale=True,
                       disable=True if args.quiet else None))
    return source, events


def _compare_and_write(events: list[Event], source: Source, target: str, strategies: list[str], tasks: str,
                       seed: int, label: str, report_dir: str | Path | None, json_path: str | None, progress: bool,
                       command: str) -> dict[str, Any]:
    from pipeline.evaluation.compare import compare
    from pipeline.evaluation.plots import plot_rolling_error, plot_task_matrices
    from pipeline.evaluation.report import format_table, write_json
    from pipeline.evaluation.tasks import parse_tasks

    report, runs, workload = compare(events, target, strategies, parse_tasks(tasks), seed, label, progress)
    report["source_stats"] = source.stats.as_dict()
    report["command"] = command
    table = format_table(report)
    if isinstance(source, SyntheticCluster):
        report["ground_truth"] = source.truth
        table += "\n\n" + _detection(report, runs, workload, source.truth)
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


def _detection(report: dict[str, Any], runs: dict[str, StrategyRun], workload: Workload,
               truth: list[dict[str, Any]]) -> str:
    """Add each strategy's detection of the scripted changes to the report; return it as lines."""
    from pipeline.evaluation.detection import detection
    from pipeline.evaluation.metrics import abs_log10_ratio

    lines = [f"scripted changes of {workload.target} (jobs of the system until the first alarm, - if none came "
             "before its next change / until the first and the last of the first 200 completions whose mean error "
             "is within 10% of before; false alarms per 100k jobs):"]
    for name, summary in report["strategies"].items():
        run = runs[name]
        errors = abs_log10_ratio(run.predicted, run.observed)
        completions = list(zip(run.completion_times, run.completion_systems, errors, strict=True))
        found = summary["detection"] = detection(truth, run.drift_events, workload.events, workload.target,
                                                 completions=completions)
        flagged = ", ".join(f"{_or_dash(c['delay_jobs'])}/{_or_dash(c['recovered_from_jobs'])}-"
                            f"{_or_dash(c['recovery_jobs'])}" for c in found["changes"])
        detectors = ", ".join(f"{n} {d}" for d, n in sorted(found["false_alarms_by_detector"].items()))
        lines.append(f"  {name:12} {flagged}; false alarms {found['false_alarms_per_100k_jobs']:.1f}"
                     + (f" ({detectors})" if detectors else ""))
    return "\n".join(lines)


def _or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)


def _evaluate(args: argparse.Namespace) -> None:
    from pipeline.evaluation.blanking import check_fields

    check_fields(_csv(args.blank))  # before the source is read: a typo should not cost the reading
    if not args.seeds:
        _evaluate_seed(args, args.seed, args.report, args.json)
        return
    from pipeline.evaluation.report import write_json
    from pipeline.evaluation.seeds import across_seeds, format_across_seeds

    seeds = args.seeds
    reports = [_evaluate_seed(args, seed, args.report and Path(args.report) / f"seed-{seed}", None)
               for seed in seeds]
    spread = across_seeds(reports)
    print("\n" + format_across_seeds(spread, seeds))
    combined = {"seeds": seeds, "command": _command(), "across_seeds": spread, "reports": reports}
    if args.json:
        write_json(combined, args.json)
    if args.report:
        from pipeline.evaluation.plots import plot_across_seeds

        write_json(combined, Path(args.report) / "across_seeds.json")
        plot_across_seeds(spread, seeds, Path(args.report) / "across_seeds.png")
        print(f"across seeds: {args.report}/across_seeds.json, across_seeds.png")


def _evaluate_seed(args: argparse.Namespace, seed: int, report_dir: str | Path | None, json_path: str | None
                   ) -> dict[str, Any]:
    """One evaluation of ``args`` with ``seed``: the source read (a synthetic cluster depends on the
    seed), fields blanked, strategies compared and the report written; returns the report."""
    from pipeline.evaluation.blanking import blank

    blanked = _csv(args.blank)
    source, events = _load(args, seed)
    label = Path(args.source).name
    if blanked:
        events, label = blank(events, blanked), f"{label} without {', '.join(blanked)}"
    target = args.target or DEFAULT_TARGET[source.kind]
    return _compare_and_write(events, source, target, _csv(args.strategies), args.tasks, seed,
                              label, report_dir, json_path, not args.quiet, _command())


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

    source = open_source(args.source, args.kind, lenient=args.lenient, n_jobs=args.jobs, system=args.system)
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


def _worker(args: argparse.Namespace) -> None:
    from pipeline.learning.registry import resolve
    from pipeline.service.app import run_worker
    from pipeline.service.config import KafkaSettings, WorkerConfig

    config = WorkerConfig(
        KafkaSettings.from_args(args), _checkpoint_key(args.checkpoint_key_file),
        previous_checkpoint_keys=_previous_checkpoint_keys(args.previous_checkpoint_key_file), group=args.group,
        strategy=resolve(args.strategy), targets=tuple(_csv(args.targets)),
        checkpoint_every_events=args.checkpoint_every_events, checkpoint_every_s=args.checkpoint_every_seconds,
        metrics_port=args.metrics_port, metrics_address=args.metrics_address, max_wait_s=args.max_wait,
        order_grace_s=args.order_grace)
    run_worker(config, args.loglevel)


def _key(path: str | None, variable: str) -> bytes:
    """A secret from a file when one is named, else from an environment variable ('' when neither)."""
    import os

    return Path(path).read_bytes().strip() if path else os.environ.get(variable, "").encode()


def _checkpoint_key(path: str | None) -> bytes:
    key = _key(path, "PERFSTREAM_CHECKPOINT_KEY")
    if len(key) < 16:
        raise ValueError("checkpoints need an HMAC key of at least 16 bytes: set PERFSTREAM_CHECKPOINT_KEY "
                         "or --checkpoint-key-file (the same key on every worker of a group)")
    return key


def _previous_checkpoint_keys(path: str | None) -> tuple[bytes, ...]:
    key = _key(path, "PERFSTREAM_PREVIOUS_CHECKPOINT_KEY")
    return (key,) if key else ()


def _health(args: argparse.Namespace) -> None:
    from pipeline.service.probe import probe

    print(f"alive: last heartbeat {probe(args.url, args.max_age):.1f} s ago")


def _topics(args: argparse.Namespace) -> None:
    from pipeline.service.admin import check_topics, create_topics
    from pipeline.service.config import KafkaSettings

    settings = KafkaSettings.from_args(args)
    if args.action == "create":
        created, existing = create_topics(settings)
        print(f"created: {', '.join(created) or 'none'}; already there: {', '.join(existing) or 'none'}")
    drifts = check_topics(settings)
    for drift in drifts:
        print(f"drift: {drift}")
    if drifts:
        raise ValueError(f"{len(drifts)} difference(s) from topics.yaml")
    print("topics match topics.yaml")


def _publish(args: argparse.Namespace) -> None:
    import itertools

    from pipeline.service.config import KafkaSettings
    from pipeline.service.tools import publish

    source = open_source(args.source, args.kind, lenient=args.lenient, n_jobs=args.jobs, system=args.system)
    events = itertools.islice(source, args.limit) if args.limit else source
    sent = publish(events, KafkaSettings.from_args(args), speedup=args.speedup, rate=args.rate)
    count = sum(1 for _ in tqdm(sent, desc="publishing", unit="ev", unit_scale=True,
                                disable=True if args.quiet else None))
    print(f"published {count} events from {Path(args.source).name} to {args.bootstrap}")


def _slurm(args: argparse.Namespace) -> None:
    from pipeline.service.config import KafkaSettings
    from pipeline.service.slurm_annotate import Annotated, annotate
    from pipeline.service.slurm_bridge import Tally, bridge_jobcomp, follow_sacct

    settings = KafkaSettings.from_args(args)
    rounds: Iterator[Tally | Annotated]
    if args.feed == "annotate":
        rounds = annotate(settings, args.system, target=args.target, group=args.group, max_age_s=args.max_age,
                          idle_timeout_s=args.idle_timeout, tally=_served(args, Annotated()))
    elif args.feed == "sacct":
        rounds = follow_sacct(settings, since=args.since, system=args.system, completion=args.completion,
                              every_s=args.follow, pending=args.pending, tally=_served(args, Tally()))
    else:
        rounds = bridge_jobcomp(settings, args.from_topic, group=args.group, system=args.system,
                                idle_timeout_s=args.idle_timeout, tally=_served(args, Tally()))
    last = None
    for last in rounds:
        print(f"slurm {args.feed}: {last}", file=sys.stderr, flush=True)
    print(f"slurm {args.feed}: {last or 'no records'}")


def _served(args: argparse.Namespace, tally: TallyT) -> TallyT:
    """A Slurm feed's running tally, served on ``--metrics-port`` when one is given."""
    from pipeline.service import slurm_metrics

    if args.metrics_port is not None:
        slurm_metrics.serve(slurm_metrics.collector(args.feed, tally), args.metrics_port, args.metrics_address)
    return tally


def _tail(args: argparse.Namespace) -> None:
    from pipeline.service.config import KafkaSettings
    from pipeline.service.tools import tail

    for record in tail(args.topic, KafkaSettings.from_args(args), system=args.system,
                       from_beginning=args.from_beginning, idle_timeout_s=args.idle_timeout):
        print(json.dumps(record), flush=True)


def _fetch(args: argparse.Namespace) -> None:
    from pipeline.sources.catalog import CATALOG, fetch, source_url

    if args.list:
        for trace in CATALOG.values():
            inside = f"\n    member {trace.member}" if trace.member else ""
            print(f"{trace.name}  {trace.about}\n    {trace.url}{inside}\n    sha256 {trace.sha256}")
        return
    if args.url:
        jobs = [(args.url, Path(args.to) / args.url.rstrip("/").rsplit("/", 1)[-1], args.sha256, "")]
    else:
        unknown = sorted(set(args.names) - set(CATALOG))
        if unknown:
            raise ValueError(f"unknown trace {', '.join(unknown)}; known: {', '.join(CATALOG)}")
        jobs = [(source_url(t, args.mirror), Path(args.to) / t.folder / t.name, t.sha256, t.member)
                for t in CATALOG.values() if t.name in args.names or (not args.names and t.development)]
    for url, destination, sha256, member in jobs:
        with tqdm(desc=destination.name, unit="B", unit_scale=True, disable=True if args.quiet else None) as bar:
            def progress(done: int, total: int | None) -> None:
                bar.total = total
                bar.update(done - bar.n)

            downloaded = fetch(url, destination, sha256, progress, member)
        checked = "sha256 checked" if sha256 else "not checked: no sha256 given"
        print(f"{destination}: {'downloaded' if downloaded else 'already there'} ({checked})")


def _command() -> str:
    return shlex.join(["perfstream", *sys.argv[1:]])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``perfstream`` console script."""
    from kafka.errors import KafkaError

    args = _parser().parse_args(argv)
    handlers = {"demo": _demo, "evaluate": _evaluate, "replay": _replay, "worker": _worker, "health": _health,
                "topics": _topics, "publish": _publish, "slurm": _slurm, "tail": _tail, "fetch": _fetch}
    try:
        handlers[args.command](args)
    except (OSError, SourceError, InvalidEvent, ValueError, KafkaError) as error:  # UnknownStrategy is a ValueError
        print(f"perfstream: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("perfstream: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
