"""The replay must never let a prediction see a label from its future, nor learn held-out jobs."""

import json
from typing import ClassVar

import pytest

from pipeline.evaluation.protocol import prepare, run_strategy
from pipeline.learning import registry
from pipeline.learning.baselines import Last2
from pipeline.sources.jsonl import JsonlSource
from pipeline.sources.swf import SwfSource
from pipeline.sources.synthetic import SyntheticCluster


class Spy(Last2):
    """last2 that notes, for each stream prediction, the latest end time among the labels it learned.

    Held-out scoring (``predict_many``) is the protocol's own look at the model after a task and is
    not a stream prediction, so it is not checked.
    """

    name = "spy"
    end_times: ClassVar[dict[str, float]] = {}
    last: ClassVar["Spy | None"] = None

    def __init__(self, context):
        super().__init__(context)
        self.learned, self.checks, self.latest_label = set(), [], float("-inf")
        Spy.last = self

    def predict_one(self, job):
        self.checks.append((job.time, self.latest_label))
        return super().predict_one(job)

    def predict_many(self, jobs):
        return [super(Spy, self).predict_one(job) for job in jobs]

    def learn_one(self, job, y):
        self.learned.add(job.job_id)
        self.latest_label = max(self.latest_label, Spy.end_times[job.job_id])
        super().learn_one(job, y)


@pytest.fixture
def spy(monkeypatch):
    monkeypatch.setitem(registry.STRATEGIES, "spy", Spy)
    return Spy


def _run(events, tasks, spy, replayed=None):
    """Prepare ``events`` and run the spy over them (or over ``replayed``, the same events in another
    order, which :func:`prepare` itself would refuse)."""
    spy.end_times = {e["job_id"]: e["end_time"] for e in events if e["schema"] == "job-completion/1"}
    workload = prepare(events, "runtime_s", tasks, seed=1)
    workload.events = replayed or workload.events
    run_strategy(workload, "spy", seed=1)
    return workload, spy.last


def test_no_prediction_sees_a_label_from_its_future(swf_slice, spy):
    _, run = _run(list(SwfSource(swf_slice)), 3, spy)
    assert any(latest > float("-inf") for _, latest in run.checks), "predictions came after some learning"
    leaks = [(t, latest) for t, latest in run.checks if latest > t]
    assert not leaks, f"{len(leaks)} predictions saw labels from their future, e.g. {leaks[:3]}"


def test_a_replay_that_leaks_labels_is_caught(swf_slice, spy):
    """The check above can fail: learn each job's label right after its submission and it does.

    (Completions before their own submissions would not get that far: the Processor refuses them.)
    """
    events = list(SwfSource(swf_slice))
    leaky = sorted(events, key=lambda e: (e["time"], e["schema"] == "job-completion/1"))
    _, run = _run(events, 1, spy, replayed=leaky)
    assert any(latest > t for t, latest in run.checks)


def test_events_out_of_stream_order_are_refused(swf_slice):
    events = sorted(SwfSource(swf_slice), key=lambda e: (e["time"], e["schema"] == "job-completion/1"))
    with pytest.raises(ValueError, match="not in stream order"):
        prepare(events, "runtime_s", 1, seed=1)


def test_a_jsonl_file_listed_job_by_job_is_replayed_without_leaks(swf_slice, spy, tmp_path):
    events = list(SwfSource(swf_slice))
    completions = {e["job_id"]: e for e in events if e["schema"] == "job-completion/1"}
    by_job = [x for e in events if e["schema"] == "job-submission/1" for x in (e, completions.get(e["job_id"])) if x]
    path = tmp_path / "by_job.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in by_job))
    _, run = _run(list(JsonlSource(path)), 2, spy)
    assert not [(t, latest) for t, latest in run.checks if latest > t]


def test_held_out_jobs_are_never_learned(spy):
    workload, run = _run(list(SyntheticCluster(6000, seed=5)), 4, spy)
    held_out_ids = {job_id for _, job_id in workload.held_out}
    assert held_out_ids and not (run.learned & held_out_ids)


def test_held_out_share_is_a_fifth_of_each_task():
    workload = prepare(list(SyntheticCluster(6000, seed=5)), "runtime_s", 4, seed=2)
    for stream, test in zip(workload.n_stream, workload.test_jobs, strict=True):
        assert abs(len(test) / (stream + len(test)) - 0.2) < 0.01


class HealthSpy(Last2):
    """last2 that notes the health each held-out job is scored with."""

    name = "health-spy"
    scored: ClassVar[dict[str, dict]] = {}

    def predict_many(self, jobs):
        HealthSpy.scored.update({job.job_id: dict(job.health) for job in jobs})
        return super().predict_many(jobs)


def _filling_file_system(n: int = 200) -> list[dict]:
    """Jobs every 10 s; the file system is 10% full until t = 1000, then 90%."""
    events = [{"schema": "node-health/1", "system": "s", "time": t, "component": "scratch",
               "component_type": "file-system", "status": "ok", "metrics": {"full_pct": full}}
              for t, full in ((0.0, 10.0), (1000.0, 90.0))]
    for i in range(n):
        job = {"job_id": str(i), "system": "s", "user": f"u{i % 5}", "requested_walltime_s": 600.0}
        events.append({"schema": "job-submission/1", "time": 10.0 * i + 1, **job})
        events.append({"schema": "job-completion/1", "time": 10.0 * i + 1, "start_time": 10.0 * i + 1,
                       "end_time": 10.0 * i + 5, "status": "completed", "outcome": {"runtime_s": 4.0}, **job})
    return sorted(events, key=lambda e: e.get("end_time", e["time"]))


def test_held_out_jobs_are_scored_with_the_health_they_were_submitted_under(monkeypatch):
    monkeypatch.setitem(registry.STRATEGIES, "health-spy", HealthSpy)
    workload = prepare(_filling_file_system(), "runtime_s", 2, seed=1)
    run_strategy(workload, "health-spy", seed=1)
    early = [job_id for _, job_id in workload.held_out if int(job_id) < 100]
    assert early and all(HealthSpy.scored[j]["health.scratch.full_pct"] == 10.0 for j in early)
