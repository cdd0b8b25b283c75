"""A synthetic cluster with scripted system changes and a recorded ground truth.

For demos and for testing drift handling where the truth is known. Users run a few favourite
applications; runtimes and I/O throughputs are log-normal around per-application levels, scaled by
the user, the process count and the speed of the node group the job lands on. A script of changes
moves those levels at known points: a node group degrades, is replaced by faster hardware, a
software patch halves I/O throughput and is later rolled back (an earlier regime returns).
Announced changes also appear as node-health events, as an operator's tooling would publish them.
Jobs are drawn with numpy a chunk at a time, so a million jobs take seconds and the memory the
stream holds does not grow with its length.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from pipeline.sources.base import SourceStats
from pipeline.sources.timeline import Event, interleave, merge

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
NODE_GROUPS = ("g0", "g1", "g2", "g3")
CHUNK = 10_000  # jobs drawn at once; part of the seed's meaning (another size draws another stream)


@dataclass(frozen=True)
class Change:
    """One scripted change: from ``at`` (a share of the system's jobs) on, ``component`` runs at ``factor``.

    ``target`` is the outcome it scales; ``component`` is a node group (runtime) or ``fs`` (I/O).
    ``status`` and ``change_type`` are what the node-health event announces; an unannounced
    change emits no event (a detector has to find it).
    """

    system: str
    at: float
    component: str
    target: str
    factor: float
    status: str = "ok"
    change_type: str | None = None
    description: str = ""
    announced: bool = True


DEFAULT_SCRIPT: tuple[Change, ...] = (
    Change("alpha", 0.20, "g1", "runtime_s", 2.0, "degraded", None, "g1 nodes degrade: jobs run 2x longer"),
    Change("alpha", 0.40, "g1", "runtime_s", 0.6, "ok", "hardware-replacement", "g1 replaced by faster nodes"),
    Change("alpha", 0.70, "g2", "runtime_s", 1.8, "degraded", None, "g2 degrades unnoticed", announced=False),
    Change("alpha", 0.85, "g2", "runtime_s", 1.0, "ok", "config", "g2 repaired: its old speed returns"),
    Change("beta", 0.30, "fs", "io_throughput_mibps", 0.5, "ok", "software-patch", "client patch halves I/O"),
    Change("beta", 0.60, "fs", "io_throughput_mibps", 1.0, "ok", "software-patch", "patch rolled back"),
)


class SyntheticCluster:
    """Seeded synthetic job stream over one or more systems, in stream order.

    Parameters
    ----------
    n_jobs
        Jobs in total, split evenly over ``systems``.
    systems
        System names.
    script
        Changes to apply; those naming other systems are ignored.
    seed
        Everything random derives from it.
    noise
        Standard deviation of the log10 noise on each outcome.

    Examples
    --------
    >>> cluster = SyntheticCluster(n_jobs=1000, seed=1)
    >>> events = list(cluster)
    >>> sum(e["schema"] == "job-submission/1" for e in events)
    1000
    >>> [c["time"] > 0 for c in cluster.truth][:2]
    [True, True]
    """

    kind = "synthetic"

    def __init__(self, n_jobs: int = 100_000, systems: Sequence[str] = ("alpha", "beta"),
                 script: Sequence[Change] = DEFAULT_SCRIPT, seed: int = 0, noise: float = 0.12,
                 n_users: int = 120, n_apps: int = 12, mean_interarrival_s: float = 60.0):
        self.n_jobs, self.systems, self.seed, self.noise = n_jobs, tuple(systems), seed, noise
        self.script = [c for c in script if c.system in self.systems]
        self.n_users, self.n_apps, self.interarrival = n_users, n_apps, mean_interarrival_s
        self.truth: list[dict[str, object]] = []  # complete once the stream has been read
        self.stats = SourceStats()

    def __iter__(self) -> Iterator[Event]:
        self.stats, self.truth = SourceStats(), []
        n = self.n_jobs // len(self.systems)
        streams = [interleave(self._system(name, n, np.random.default_rng([self.seed, i])))
                   for i, name in enumerate(self.systems)]
        return merge(*streams)

    def _system(self, name: str, n: int, rng: np.random.Generator) -> Iterator[tuple[Event, Event | None]]:
        """One system's jobs as (submission, completion) pairs in submit order, each announced change
        as a (node-health event, None) pair just before the first job it affects."""
        levels = {
            "app_runtime": rng.uniform(1.5, 4.0, self.n_apps),   # log10 s
            "app_io": rng.uniform(1.0, 3.5, self.n_apps),        # log10 MiB/s
            "app_procs": rng.integers(0, 9, self.n_apps),        # log2 of the usual process count
            "user_scale": rng.normal(0.0, 0.25, self.n_users),
            "favourites": rng.integers(0, self.n_apps, (self.n_users, 3)),
        }
        changes = [c for c in self.script if c.system == name]
        starts: dict[int, list[Change]] = {}  # the job each change begins with
        for change in changes:
            starts.setdefault(min(int(change.at * n), n - 1), []).append(change)
        last_time = START
        for first in range(0, n, CHUNK):
            chunk = self._chunk(np.arange(first, min(n, first + CHUNK)), n, last_time, levels, changes, rng)
            last_time = chunk.pop("clock")[-1]
            self.stats.jobs += len(chunk["index"])
            for row, pair in enumerate(self._pairs(name, chunk)):
                for change in starts.get(first + row, ()):
                    self.truth.append({**asdict(change), "time": pair[0]["time"], "job_index": int(change.at * n)})
                    health = self._health_event(change, pair[0]["time"])
                    if health is not None:
                        self.stats.health_events += 1
                        yield health, None
                yield pair

    def _chunk(self, index: np.ndarray, n: int, last_time: float, levels: dict[str, np.ndarray],
               changes: list[Change], rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Jobs ``index`` of a system of ``n``, the previous one submitted at ``last_time``."""
        size = len(index)
        user = rng.zipf(1.6, size) % self.n_users
        app = levels["favourites"][user, rng.integers(0, 3, size)]
        usual_procs = levels["app_procs"][app]
        log2_procs = np.clip(usual_procs + rng.integers(-1, 2, size), 0, 10)
        group = rng.integers(0, len(NODE_GROUPS), size)
        clock = last_time + np.cumsum(rng.exponential(self.interarrival, size))
        log_runtime = levels["app_runtime"][app] + levels["user_scale"][user] - 0.15 * (log2_procs - usual_procs)
        log_io = levels["app_io"][app] + 0.1 * log2_procs
        for change in changes:
            affected = index >= int(change.at * n)
            if change.component in NODE_GROUPS:
                affected &= group == NODE_GROUPS.index(change.component)
            # Factors are levels, not steps: undo the component's previous level, then apply the new one.
            delta = np.where(affected, np.log10(change.factor) - np.log10(self._level_before(change)), 0.0)
            if change.target == "runtime_s":
                log_runtime = log_runtime + delta
            else:
                log_io = log_io + delta
        runtime = np.maximum(np.round(10 ** (log_runtime + rng.normal(0.0, self.noise, size))), 1.0)
        return {
            "index": index, "clock": clock, "time": np.round(clock, 3), "user": user, "app": app,
            "procs": 2**log2_procs, "group": group, "wait": np.round(rng.exponential(300.0, size)),
            "runtime": runtime,
            "requested": np.ceil(runtime * 10 ** np.abs(rng.normal(0.3, 0.25, size)) / 900.0) * 900.0,
            "io": np.round(10 ** (log_io + rng.normal(0.0, self.noise, size)), 3),
        }

    def _level_before(self, change: Change) -> float:
        earlier = [c for c in self.script if c.system == change.system and c.component == change.component
                   and c.target == change.target and c.at < change.at]
        return max(earlier, key=lambda c: c.at).factor if earlier else 1.0

    @staticmethod
    def _health_event(change: Change, time: float) -> Event | None:
        if not change.announced:
            return None
        event: Event = {
            "schema": "node-health/1", "system": change.system, "component": change.component,
            "component_type": "file-system" if change.component == "fs" else "node-group",
            "time": time, "status": change.status,
        }
        if change.change_type is not None:
            event["change"] = {"type": change.change_type, "description": change.description}
        return event

    @staticmethod
    def _pairs(system: str, columns: dict[str, np.ndarray]) -> Iterator[tuple[Event, Event]]:
        for i in range(len(columns["index"])):
            submit = float(columns["time"][i])
            procs = int(columns["procs"][i])
            submission = {
                "schema": "job-submission/1", "job_id": f"{system}-{columns['index'][i]}", "system": system,
                "time": submit, "user": f"user{columns['user'][i]}", "group": f"grp{columns['user'][i] % 7}",
                "queue": "debug" if columns["requested"][i] <= 1800 else "batch",
                "app": f"app{columns['app'][i]}", "num_procs": procs, "num_nodes": max(1, procs // 32),
                "requested_walltime_s": float(columns["requested"][i]),
                "features": {"node_group": NODE_GROUPS[columns["group"][i]]},
            }
            start = submit + float(columns["wait"][i])
            runtime = float(columns["runtime"][i])
            completion = {
                **submission, "schema": "job-completion/1", "start_time": start, "end_time": start + runtime,
                "status": "completed",
                "outcome": {"runtime_s": runtime, "io_throughput_mibps": float(columns["io"][i])},
            }
            yield submission, completion
