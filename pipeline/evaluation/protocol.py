"""The evaluation protocol of DESIGN.md, run honestly over one event stream.

Each strategy drives its own :class:`~pipeline.processor.Processor` through the stream in stream
order: a submission is predicted before anything later is learned, a label is learned only when its
completion arrives. A seeded 20% of each task's jobs is held out (never learned); whenever the stream
passes the end of task i, every task's held-out jobs are scored: ``R[i][j]``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.evaluation import metrics
from pipeline.evaluation.absence import JobKey, by_absence, days_away
from pipeline.evaluation.tasks import Task, make_tasks, task_of, test_split
from pipeline.processor import Processor
from pipeline.sources.timeline import Event, behind, event_time, order_key


@dataclass
class Workload:
    """A stream prepared for evaluation: tasks, held-out jobs and the accuracy bins."""

    events: list[Event]
    target: str
    tasks: list[Task]
    held_out: set[JobKey]
    excluded: set[JobKey]
    test_jobs: list[list[Event]]
    test_observed: list[np.ndarray]
    edges: np.ndarray
    n_stream: list[int]
    away: dict[JobKey, float | None]  # per learned job, days its kind had been away (absence.py)

    @property
    def change_points(self) -> list[float]:
        """Times of announced changes (node-health events with a ``change``)."""
        return [e["time"] for e in self.events if e["schema"].startswith("node-health") and "change" in e]


@dataclass
class StrategyRun:
    """What one strategy did over the stream."""

    name: str
    completion_times: list[float] = field(default_factory=list)
    completion_systems: list[str] = field(default_factory=list)
    predicted: list[float] = field(default_factory=list)
    observed: list[float] = field(default_factory=list)
    low: list[float] = field(default_factory=list)  # each prediction's interval
    high: list[float] = field(default_factory=list)
    basis: list[str | None] = field(default_factory=list)  # what each prediction rested on
    jobs: list[JobKey] = field(default_factory=list)  # whose prediction each was
    drift_events: list[dict[str, Any]] = field(default_factory=list)
    held_out_health: dict[JobKey, Mapping[str, float]] = field(default_factory=dict)  # at submission
    error_matrix: list[list[float | None]] = field(default_factory=list)
    accuracy_matrix: list[list[float | None]] = field(default_factory=list)
    seconds: float = 0.0
    events: int = 0


def _key(event: Event) -> JobKey:
    return event["system"], event["job_id"]


def prepare(events: Sequence[Event], target: str, task_spec: int | list[float], seed: int,
            test_share: float = 0.2) -> Workload:
    """Cut the stream into tasks, hold out a seeded share of each task, and fix the accuracy bins.

    ``events`` must be in stream order (the sources' order): in any other, a prediction could be
    made after a label from its future was learned.
    """
    _check_stream_order(events)
    observed = {_key(e): e["outcome"][target] for e in events
                if e["schema"].startswith("job-completion") and target in e["outcome"]}
    submissions = [e for e in events if e["schema"].startswith("job-submission")]
    if len({_key(s) for s in submissions}) != len(submissions):
        raise ValueError("job ids repeat within a system: each job needs its own id")
    excluded = {_key(s) for s in submissions if _key(s) not in observed}
    jobs = [s for s in submissions if _key(s) in observed]
    if not jobs:
        raise ValueError(f"no job in the stream has the target {target!r}")
    tasks = make_tasks([s["time"] for s in jobs], task_spec)
    job_tasks = [task_of(s["time"], tasks) for s in jobs]
    mask = test_split(job_tasks, len(tasks), seed, test_share)
    test_jobs: list[list[Event]] = [[] for _ in tasks]
    n_stream = [0] * len(tasks)
    for job, task, held in zip(jobs, job_tasks, mask, strict=True):
        if held:
            test_jobs[task].append(job)
        else:
            n_stream[task] += 1
    held_out = {_key(j) for j, held in zip(jobs, mask, strict=True) if held}
    return Workload(
        events=list(events), target=target, tasks=tasks,
        held_out=held_out, excluded=excluded,
        test_jobs=test_jobs,
        test_observed=[np.array([observed[_key(j)] for j in group]) for group in test_jobs],
        edges=metrics.bin_edges(list(observed.values())), n_stream=n_stream,
        away=days_away(events, {_key(j) for j in jobs} - held_out),
    )


def _check_stream_order(events: Sequence[Event]) -> None:
    index = next(behind(map(order_key, events)), None)
    if index is not None:
        event = events[index]
        raise ValueError(f"the events are not in stream order: event {index + 1} ({event['schema']}"
                         f"{', job ' + str(event['job_id']) if 'job_id' in event else ''}) comes after a later one")


def _score(processor: Processor, workload: Workload, health: dict[JobKey, Mapping[str, float]]
           ) -> tuple[list[float | None], list[float | None]]:
    """Each task's held-out error and accuracy now. A job the stream has passed is predicted with the
    health it was submitted under (it ran then, not now); a job still to come, with today's."""
    errors, accuracies = [], []
    for jobs, observed in zip(workload.test_jobs, workload.test_observed, strict=True):
        predicted = np.array(processor.predict_many(jobs, workload.target, [health.get(_key(j)) for j in jobs]))
        errors.append(float(metrics.abs_log10_ratio(predicted, observed).mean()) if len(jobs) else None)
        accuracies.append(metrics.tolerance_accuracy(predicted, observed, workload.edges))
    return errors, accuracies


def run_strategy(workload: Workload, strategy: str, seed: int,
                 advance: Callable[[int], object] = lambda n: None) -> StrategyRun:
    """Drive one strategy's Processor through the stream; ``advance(n)`` reports progress."""
    processor = Processor(strategy, (workload.target,), first_task_end=workload.tasks[0].end, seed=seed)
    run = StrategyRun(processor.strategy)
    boundary, since_tick = 0, 0
    for event in workload.events:
        since_tick += 1
        if since_tick == 1000:
            advance(since_tick)
            since_tick = 0
        if "job_id" in event and (_key(event) in workload.held_out or _key(event) in workload.excluded):
            if _key(event) in workload.held_out and event["schema"].startswith("job-submission"):
                run.held_out_health[_key(event)] = processor.health(event["system"])
            continue
        while boundary < len(workload.tasks) - 1 and event_time(event) >= workload.tasks[boundary].end:
            _record_row(run, processor, workload)
            boundary += 1
        started = time.perf_counter()
        records = processor.handle(event)
        run.seconds += time.perf_counter() - started
        run.events += 1
        for record in records:
            if record["schema"] == "prediction/1" and record["stage"] == "completion":
                run.completion_times.append(record["time"])
                run.completion_systems.append(record["system"])
                run.predicted.append(record["predicted"])
                run.observed.append(record["observed"])
                run.low.append(record["low"])
                run.high.append(record["high"])
                run.basis.append(record["basis"])
                run.jobs.append((record["system"], record["job_id"]))
            elif record["schema"] == "drift-event/1":
                run.drift_events.append(record)
    advance(since_tick)
    while len(run.error_matrix) < len(workload.tasks):
        _record_row(run, processor, workload)
    return run


def _record_row(run: StrategyRun, processor: Processor, workload: Workload) -> None:
    errors, accuracies = _score(processor, workload, run.held_out_health)
    run.error_matrix.append(errors)
    run.accuracy_matrix.append(accuracies)


def summarize(run: StrategyRun, workload: Workload, naive: StrategyRun | None) -> dict[str, Any]:
    """The JSON summary of one strategy's run (layout documented in the README)."""
    whole = metrics.whole_sequence(run.error_matrix)
    whole_acc = metrics.whole_sequence(run.accuracy_matrix)
    naive_whole = metrics.whole_sequence(naive.error_matrix) if naive else None
    naive_acc = metrics.whole_sequence(naive.accuracy_matrix) if naive else None
    prequential = metrics.prequential_summary(run.predicted, run.observed)
    prequential["tolerance_accuracy"] = metrics.tolerance_accuracy(run.predicted, run.observed, workload.edges)
    prequential.update({f"interval_{k}": v for k, v in metrics.interval_summary(run.low, run.high,
                                                                                 run.observed).items()})
    return {
        "prequential": prequential,
        "by_basis": _by_basis(run),
        "by_absence": by_absence(run.jobs, run.predicted, run.observed, workload.away),
        "R": run.error_matrix,
        "whole_sequence_error": whole,
        "bwt": metrics.backward_transfer(run.error_matrix),
        "forgetting": metrics.forgetting(run.error_matrix),
        "improvement_vs_naive": naive_whole / whole if naive_whole and whole else None,
        "tolerance_accuracy": {
            "R": run.accuracy_matrix,
            "whole_sequence": whole_acc,
            "bwt": metrics.backward_transfer(run.accuracy_matrix),
            "ratio_vs_naive": whole_acc / naive_acc if whole_acc and naive_acc else None,
        },
        "drift_events": len(run.drift_events),
        "events_per_second": run.events / run.seconds if run.seconds else None,
    }


def _by_basis(run: StrategyRun) -> dict[str, dict[str, Any]]:
    """The prequential errors and interval of each basis a strategy names (none for most)."""
    bases = np.array(["" if b is None else b for b in run.basis])
    predicted, observed, low, high = (np.asarray(v, float) for v in (run.predicted, run.observed, run.low, run.high))
    summaries: dict[str, dict[str, Any]] = {}
    for basis in sorted({b for b in run.basis if b is not None}):
        mask = bases == basis
        summary = metrics.prequential_summary(predicted[mask], observed[mask])
        summary["share"] = float(mask.mean())
        summary.update({f"interval_{k}": v for k, v in metrics.interval_summary(low[mask], high[mask],
                                                                                 observed[mask]).items()})
        summaries[basis] = summary
    return summaries
