"""The pure core: per-system learned state, and ``handle(event) -> output records``.

The same :class:`Processor` is driven by the in-process runner (``demo``, ``evaluate``,
``replay``) and by the Kafka worker. It does no I/O and knows nothing about Kafka.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any, NamedTuple

from pipeline.health import HealthState
from pipeline.learning.drift import Alarm, DriftMonitor
from pipeline.learning.interval import GroupedInterval
from pipeline.learning.job import Job
from pipeline.learning.registry import make_strategy, resolve
from pipeline.learning.shift import Shift, ShiftMonitor
from pipeline.learning.strategy import Strategy, StrategyContext
from pipeline.schemas import InvalidEvent, kind_of, validate

Record = dict[str, Any]
# The shape of the pickled state's classes: bumped whenever one changes, so that a worker never loads
# a checkpoint its code would misread (2: History records hold tuples, maps only for users; 3: a
# signature's runs are a double array; 4: select's error records double arrays, History shares each
# combination of string features among its signatures; 5: the replay buffers of select and consensus
# hold each job's regime and both models' samples; 6: History keeps retired signature runs and their
# shifts after announced changes, signatures carry the health status of where a job runs,
# consensus keeps its settling correction; 7: consensus no longer keeps a learned trust in its anchor,
# a pending prediction keeps the reference the detectors watch; 8: the linear models keep their
# own weights and scales instead of river objects; 9: History keeps how far a signature's runs may
# scatter to count as a job's own; 10: an interval per basis of prediction, pending predictions keep
# their basis, recent interval hits are kept; 11: a signature's runs start with the submission time
# of its latest, and History keeps when runs go stale; 12: consensus's settling keeps the component
# it covers; 13: History pickles its tables flat).
STATE_FORMAT = 13
RECENT_COMPLETIONS = 10_000  # per system: enough to outlast any reordering, and a producer resending a batch


class _Done(NamedTuple):
    """A recent completion: when the job ended, and whether its submission had been predicted."""

    end_time: float
    submitted: bool


@dataclass
class _Pending:
    predicted: float
    low: float
    high: float
    reference: float  # what the drift detectors score (Strategy.predict_detail)
    basis: str | None  # what the prediction rests on: its interval's group


@dataclass
class TargetState:
    """One system's model for one target, with its interval and recent errors."""

    strategy: Strategy
    monitor: DriftMonitor = field(default_factory=DriftMonitor)
    shifts: ShiftMonitor = field(default_factory=ShiftMonitor)
    interval: GroupedInterval = field(default_factory=GroupedInterval)
    errors: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    hits: deque[bool] = field(default_factory=lambda: deque(maxlen=1000))  # outcome within its interval
    n_scored: int = 0


@dataclass
class SystemState:
    """Everything learned about one system; bounded whatever the stream length."""

    targets: dict[str, TargetState]
    health: HealthState = field(default_factory=HealthState)
    pending: OrderedDict[tuple[str, str], _Pending] = field(default_factory=OrderedDict)
    # recent completions by job id: a submission or completion of a job completed already is refused
    # (format 13 kept None for each: such a job's events are late, never duplicates)
    completed: OrderedDict[str, _Done | None] = field(default_factory=OrderedDict)


class Processor:
    """Predicts every submitted job and learns from every completed one, per system.

    Parameters
    ----------
    strategy
        Name of the continual-learning strategy (see :mod:`pipeline.learning.registry`).
    targets
        Outcomes to predict, e.g. ``("runtime_s",)`` or ``("io_throughput_mibps",)``.
    first_task_end, seed
        Passed to each new strategy (see :class:`~pipeline.learning.strategy.StrategyContext`).
    metrics_every
        Emit a model-metrics record after this many scored completions per system and target.
    max_pending
        Submissions remembered while their jobs run; the oldest are dropped beyond this.

    Examples
    --------
    >>> p = Processor("last2")
    >>> job = {"job_id": "1", "system": "s", "time": 0, "user": "u", "requested_walltime_s": 600}
    >>> [r["predicted"] for r in p.handle({"schema": "job-submission/1", **job})]
    [600.0]
    >>> done = {"schema": "job-completion/1", **job, "start_time": 0, "end_time": 60,
    ...         "status": "completed", "outcome": {"runtime_s": 60}}
    >>> [(r["observed"], round(r["error"], 3)) for r in p.handle(done)]
    [(60, 1.0)]
    """

    def __init__(self, strategy: str = "default", targets: Iterable[str] = ("runtime_s",), *,
                 first_task_end: float | None = None, seed: int = 0, metrics_every: int = 1000,
                 max_pending: int = 200_000):
        self.strategy = resolve(strategy)
        self.targets = tuple(targets)
        self.first_task_end, self.seed = first_task_end, seed
        self.metrics_every, self.max_pending = metrics_every, max_pending
        self.systems: dict[str, SystemState] = {}

    def _system(self, name: str) -> SystemState:
        state = self.systems.get(name)
        if state is None:
            state = SystemState({
                t: TargetState(make_strategy(self.strategy, StrategyContext(t, self.first_task_end, self.seed)))
                for t in self.targets
            })
            self.systems[name] = state
        return state

    def handle(self, event: Mapping[str, Any]) -> list[Record]:
        """Validate one input event, update state, and return the records it produces.

        Raises :class:`~pipeline.schemas.InvalidEvent` (state untouched) for a bad event.
        """
        validate(event)
        return self.apply(event)

    def apply(self, event: Mapping[str, Any]) -> list[Record]:
        """:meth:`handle` for an event already validated (the worker validates on receipt)."""
        kind = kind_of(event)
        if kind == "job-submission":
            return self._submission(event)
        if kind == "job-completion":
            return self._completion(event)
        if kind == "node-health":
            return self._health(event)
        raise InvalidEvent(f"{kind} is an output kind, not an input", "schema", "wrong-kind")

    def predict_many(self, events: Sequence[Mapping[str, Any]], target: str,
                     health: Sequence[Mapping[str, float] | None] | None = None) -> list[float]:
        """Predictions of ``target`` for job events, without learning or remembering anything.

        ``health``: per event, the health snapshot its job was submitted under (see :meth:`health`),
        or ``None`` for the system's current health.
        """
        by_system: dict[str, list[int]] = {}
        for index, event in enumerate(events):
            validate(event)
            by_system.setdefault(event["system"], []).append(index)
        predicted = [0.0] * len(events)
        for system, indices in by_system.items():
            state = self._system(system)
            current = state.health.snapshot()
            jobs = [Job.from_event(events[i], current if health is None or health[i] is None else health[i])
                    for i in indices]
            for i, value in zip(indices, state.targets[target].strategy.predict_many(jobs), strict=True):
                predicted[i] = value
        return predicted

    def submitted(self, system: str, job_id: str) -> bool:
        """Whether a submission of ``job_id`` on ``system`` was predicted and awaits its completion."""
        state = self.systems.get(system)
        return state is not None and any((job_id, target) in state.pending for target in self.targets)

    def health(self, system: str) -> Mapping[str, float]:
        """``system``'s current health snapshot, as a job submitted now would be predicted with it."""
        return self._system(system).health.snapshot()

    def _submission(self, event: Mapping[str, Any]) -> list[Record]:
        state = self._system(event["system"])
        if event["job_id"] in state.completed:
            done = state.completed[event["job_id"]]
            if done is not None and done.submitted:  # a producer that delivers at least once sent it again
                raise InvalidEvent("the job was predicted and completed already: its producer sent it again",
                                   "job_id", "duplicate-submission")
            raise InvalidEvent("the job already completed: predicting it now would use its own outcome",
                               "job_id", "late-submission")  # a live stream's race
        if self.submitted(event["system"], event["job_id"]):  # the first prediction is what was served and is scored
            raise InvalidEvent("the job was predicted already and has not completed: its producer sent it again",
                               "job_id", "duplicate-submission")
        job = Job.from_event(event, state.health.snapshot())
        records = []
        for target, ts in state.targets.items():
            pending = self._predict(job, ts)
            state.pending[(job.job_id, target)] = pending
            records.append(self._prediction(job, target, ts, "submission", event["time"], pending))
        while len(state.pending) > self.max_pending:
            state.pending.popitem(last=False)
        return records

    def _completion(self, event: Mapping[str, Any]) -> list[Record]:
        outcome = event["outcome"]
        known = [t for t in self.targets if t in outcome]
        if not known:
            raise InvalidEvent(f"no outcome for any target this worker predicts ({', '.join(self.targets)})",
                               "outcome", "unknown-target")
        state = self._system(event["system"])
        done = state.completed.get(event["job_id"])
        if done is not None and done.end_time == event["end_time"]:  # another run of a requeued job ends later
            raise InvalidEvent("this completion was learned already: its producer sent it again", "job_id",
                               "duplicate-completion")
        job = Job.from_event(event, state.health.snapshot())
        state.completed[job.job_id] = _Done(event["end_time"], self.submitted(event["system"], job.job_id))
        while len(state.completed) > RECENT_COMPLETIONS:
            state.completed.popitem(last=False)
        component = ShiftMonitor.component_of(job.features)
        records = []
        for target in known:
            ts, observed = state.targets[target], outcome[target]
            pending = state.pending.pop((job.job_id, target), None)
            if pending is None:  # never saw its submission: predict now, before learning
                pending = self._predict(job, ts)
            residual = math.log10(observed / pending.predicted)
            watched = math.log10(observed / pending.reference)
            record = self._prediction(job, target, ts, "completion", event["end_time"], pending)
            record.update(observed=observed, error=abs(residual))
            records.append(record)
            ts.strategy.learn_one(job, observed)
            ts.interval.update(residual, pending.basis)
            ts.errors.append(abs(residual))
            ts.hits.append(pending.low <= observed <= pending.high)
            ts.n_scored += 1
            for alarm in ts.monitor.update(abs(watched), event["end_time"]):
                ts.strategy.on_drift(alarm)
                records.append(self._drift(job.system, target, alarm))
            if component is not None:  # for operators, and for histories of each job's own runs
                for shift in ts.shifts.update(component, watched, ts.n_scored, event["end_time"]):
                    ts.strategy.on_shift(shift.component.split("=", 1)[1])  # the value jobs name
                    records.append(self._shift(job.system, target, shift))
            if ts.n_scored % self.metrics_every == 0:
                records.append(self._metrics(job.system, target, ts, event["end_time"]))
        return records

    def _health(self, event: Mapping[str, Any]) -> list[Record]:
        state = self._system(event["system"])
        state.health.update(event)
        records = []
        for target, ts in state.targets.items():
            ts.strategy.observe(event)
            if "change" in event:  # a known change point: announced, not detected
                recent = list(ts.errors)[-100:]
                level = sum(recent) / len(recent) if recent else 0.0
                alarm = Alarm("known-change", ts.n_scored, event["time"], level, level, event.get("component"))
                ts.strategy.on_drift(alarm)
                records.append(self._drift(event["system"], target, alarm))
        return records

    @staticmethod
    def _predict(job: Job, ts: TargetState) -> _Pending:
        predicted, reference, basis = ts.strategy.predict_detail(job)
        return _Pending(predicted, *ts.interval.bounds(predicted, basis), reference, basis)

    def _prediction(self, job: Job, target: str, ts: TargetState, stage: str, time: float,
                    pending: _Pending) -> Record:
        return {
            "schema": "prediction/1", "job_id": job.job_id, "system": job.system, "target": target,
            "stage": stage, "predicted": pending.predicted, "low": pending.low, "high": pending.high,
            "basis": pending.basis,
            "model": {"strategy": self.strategy, "version": ts.strategy.version,
                      "regime": ts.strategy.regime},
            "time": time,
        }

    def _drift(self, system: str, target: str, alarm: Alarm) -> Record:
        return {
            "schema": "drift-event/1", "system": system, "target": target, "detector": alarm.detector,
            "position": alarm.position, "time": alarm.time, "error_before": alarm.error_before,
            "error_after": alarm.error_after,
            **({"component": alarm.component} if alarm.component is not None else {}),
        }

    def _shift(self, system: str, target: str, shift: Shift) -> Record:
        return {
            "schema": "drift-event/1", "system": system, "target": target, "detector": f"shift-{shift.direction}",
            "position": shift.position, "time": shift.time, "component": shift.component,
            "shift_log10": shift.after - shift.before,
        }

    def _metrics(self, system: str, target: str, ts: TargetState, time: float) -> Record:
        errors = list(ts.errors)
        return {
            "schema": "model-metrics/1", "system": system, "target": target, "strategy": self.strategy,
            "time": time, "n": ts.n_scored, "window": len(errors),
            "mean_abs_log10": sum(errors) / len(errors), "median_abs_log10": median(errors),
            "interval_coverage": sum(ts.hits) / len(ts.hits), "buffer_size": ts.strategy.buffer_size,
        }
