"""Compare strategies on one stream: the report that ``perfstream evaluate`` writes."""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Sequence
from typing import Any

from tqdm import tqdm

from pipeline.evaluation.protocol import StrategyRun, Workload, prepare, run_strategy, summarize
from pipeline.learning.registry import resolve
from pipeline.sources.timeline import Event

_PACKAGES = ("river", "numpy", "scikit-learn")


def versions() -> dict[str, str]:
    """Versions that decide the numbers: Python, perfstream and the learning libraries."""
    found = {"python": platform.python_version()}
    for package in ("perfstream", *_PACKAGES):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def compare(events: Sequence[Event], target: str, strategies: Sequence[str], task_spec: int | list[float],
            seed: int = 0, source: str = "", progress: bool = True
            ) -> tuple[dict[str, Any], dict[str, StrategyRun], Workload]:
    """Run every strategy over ``events`` under the protocol; return the report, runs and workload.

    Naive fine-tuning is the reference for ``improvement_vs_naive``; it is run even when not asked
    for, but reported only when asked for.
    """
    names = list(dict.fromkeys(resolve(name) for name in strategies))
    to_run = names if "naive" in names else ["naive", *names]
    workload = prepare(events, target, task_spec, seed)
    runs: dict[str, StrategyRun] = {}
    with tqdm(total=len(workload.events) * len(to_run), unit="ev", unit_scale=True,
              disable=None if progress else True, desc="evaluating") as bar:
        for name in to_run:
            bar.set_postfix_str(name)
            runs[name] = run_strategy(workload, name, seed, bar.update)
    report = {
        "source": source,
        "target": target,
        "seed": seed,
        "versions": versions(),
        "tasks": [{"start": t.start, "end": t.end, "n_stream": n, "n_test": len(test)}
                  for t, n, test in zip(workload.tasks, workload.n_stream, workload.test_jobs, strict=True)],
        "jobs_without_target": len(workload.excluded),
        "strategies": {name: summarize(runs[name], workload, runs["naive"]) for name in names},
    }
    return report, {name: runs[name] for name in names}, workload
