"""Learning speed and memory of every strategy, against a bare river loop on the same events.

For each strategy and data set: events per second through ``Processor.handle`` (median of
``--repeats`` runs, each in a fresh process so that its peak RSS is its own), and in the same run
the reference, river's ``StandardScaler | LinearRegression`` predicting and learning the same jobs
from the same model inputs (request sizes and one-hot keys), with nothing else: no validation, no
intervals, no detectors, no history, no replay. ``--scale`` also compares the peak RSS of one
strategy after 100k and 1M synthetic jobs (memory must not grow with the stream).

    python benchmarks/bench_learning.py --data ../shared/data --repeats 5 --json bench.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing as mp
import resource
import statistics
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

STRATEGIES = ("naive", "frozen", "median", "last2", "history", "replay", "drift-reset", "select", "consensus")


def _events(name: str, data: str, jobs: int) -> list[dict]:
    from pipeline.sources.swf import SwfSource
    from pipeline.sources.synthetic import SyntheticCluster

    if name == "synthetic":
        return list(SyntheticCluster(jobs, seed=0))
    source = SwfSource(Path(data) / "traces" / "SDSC-SP2-1998-4.2-cln.swf.gz")
    return list(itertools.islice(source, 2 * jobs))


def _run_strategy(strategy: str, name: str, data: str, jobs: int, queue: mp.Queue, lazy: bool = False) -> None:
    from pipeline.processor import Processor
    from pipeline.sources.synthetic import SyntheticCluster

    # lazy: stream the synthetic events instead of holding them, so peak RSS is the learner's own
    events = SyntheticCluster(jobs, seed=0) if lazy else _events(name, data, jobs)
    processor = Processor(strategy)
    count = 0
    started = time.perf_counter()
    for event in events:
        processor.handle(event)
        count += 1
    seconds = time.perf_counter() - started
    queue.put((count / seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def _run_reference(name: str, data: str, jobs: int, queue: mp.Queue) -> None:
    import math

    from river import linear_model, preprocessing

    from pipeline.learning.job import Job
    from pipeline.learning.regressors import make_sample

    events = _events(name, data, jobs)
    model = preprocessing.StandardScaler() | linear_model.LinearRegression()
    started = time.perf_counter()
    for event in events:
        if event["schema"] == "node-health/1":
            continue
        sample = make_sample(Job.from_event(event))  # the same inputs the strategies' models see
        x = {**sample.scaled, **sample.fixed}
        if event["schema"] == "job-submission/1":
            model.predict_one(x)
        else:
            model.learn_one(x, math.log10(event["outcome"]["runtime_s"]))
    seconds = time.perf_counter() - started
    queue.put((len(events) / seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def _measure(target, *args, lazy: bool = False) -> Any:
    """``target(*args, queue)`` in a fresh process (so that its peak RSS is its own): what it put in the queue."""
    queue: mp.Queue = mp.Queue()
    kwargs = {"lazy": True} if lazy else {}
    process = mp.Process(target=target, args=(*args, queue), kwargs=kwargs)
    process.start()
    # the result is a few numbers, small enough to sit in the queue's pipe until the child is joined;
    # joining first means a child that died (a missing data file) stops the benchmark, not hangs it
    process.join()
    if process.exitcode != 0:
        raise SystemExit(f"{target.__name__}{args} failed (exit code {process.exitcode}); its error is above")
    return queue.get()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--jobs", type=int, default=30_000, help="jobs per data set")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--scale", default="", help="a strategy to measure at 100k and 1M synthetic jobs")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    results: dict = {"jobs": args.jobs, "repeats": args.repeats, "data": {}}
    strategies = args.strategies.split(",")
    for name in ("sdsc-sp2", "synthetic"):
        rows = {}
        for label in tqdm(["reference", *strategies], desc=name):
            runs = [_measure(_run_reference, name, args.data, args.jobs) if label == "reference"
                    else _measure(_run_strategy, label, name, args.data, args.jobs) for _ in range(args.repeats)]
            rows[label] = {"events_per_second": statistics.median(r[0] for r in runs),
                           "peak_rss_mib": statistics.median(r[1] for r in runs)}
        for label in strategies:
            reference = rows["reference"]["events_per_second"]
            rows[label]["ratio_vs_reference"] = rows[label]["events_per_second"] / reference
        results["data"][name] = rows
        print(f"\n{name}: {args.jobs} jobs, median of {args.repeats} runs")
        print(f"{'':12} {'events/s':>10} {'x river':>8} {'peak MiB':>9}")
        for label, row in rows.items():
            print(f"{label:12} {row['events_per_second']:10,.0f} {row.get('ratio_vs_reference', 1.0):8.2f} "
                  f"{row['peak_rss_mib']:9.0f}")
    if args.scale:
        small = _measure(_run_strategy, args.scale, "synthetic", args.data, 100_000, lazy=True)
        large = _measure(_run_strategy, args.scale, "synthetic", args.data, 1_000_000, lazy=True)
        results["scale"] = {"strategy": args.scale, "rss_100k_mib": small[1], "rss_1m_mib": large[1],
                            "ratio": large[1] / small[1]}
        print(f"\npeak RSS {args.scale}: 100k jobs {small[1]:.0f} MiB, 1M jobs {large[1]:.0f} MiB, "
              f"ratio {large[1] / small[1]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
