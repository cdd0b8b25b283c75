"""What the jobs that already completed say about the next one: per-user and per-application history.

Runtime predictors that ignore a user's recent jobs lose to the last-two heuristic (Tsafrir et al.
2007); history used honestly (updated only when a completion arrives) carries that signal into a
model. Values are log10 outcomes, so they share the model's target scale.
"""

from __future__ import annotations

import math
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pipeline.learning.job import Job

# How closely an anchor speaks for a job (History.anchor_source); a stranger has none
OWN_RUNS, SAME_REQUEST, ANOTHER_REQUEST, OTHER, STRANGER = (
    "own runs", "same request", "another request", "other", "stranger")

# Where a job runs: its string features, then the health status of each that names a component with
# health reports (History.placement)
Placement = tuple[tuple[str, str | float], ...]
# Who, what, how big, how long requested, and where (History.signature); a shape has no application
Signature = tuple[str | None, str | None, float | None, int | None, Placement]
_Key = TypeVar("_Key", float, str)  # what a user's recent outcomes are remembered by: request or application
_Part = TypeVar("_Part", float | None, Placement)  # a part of a signature that many signatures share


@dataclass
class _Record:
    """One user's or application's recent outcomes.

    Flat on purpose: a history holds tens of thousands of these, and every container in them costs
    memory, garbage-collector scans and checkpoint time (pickling select's state spent half its time
    on the empty maps and two-item deques of application records, SDSC-SP2). Tuples of floats are
    not even tracked by the collector.
    """

    last: tuple[float, ...] = ()  # the last two outcomes, oldest first
    ewma: float = 0.0
    ratio_ewma: float | None = None  # log10(outcome / requested walltime)
    n: int = 0
    by_request: OrderedDict[float, float] | None = None  # users only: last outcome per request, app
    by_app: OrderedDict[str, float] | None = None


class History:
    """Recent log10 outcomes per user and per application, with bounded memory.

    Parameters
    ----------
    alpha
        Weight of the newest outcome in the exponentially weighted means.
    max_keys
        Users (and applications) remembered; the least recently seen are forgotten beyond this.
    requests_per_user
        Distinct requested walltimes (and applications) remembered per user.
    signature_runs
        Runs remembered per job signature.
    shift_alpha
        Weight of the newest outcome in the shift of retired signature runs (see :meth:`on_change`).
    agreement
        Largest median absolute deviation (log10) of a signature's runs for them to count as the
        job's own runs (see :meth:`anchor_source`); 0.15 is within a factor of 1.4 of their median.
    stale_after_s
        Age of a signature's latest run beyond which its runs no longer count as the job's own
        (see :meth:`anchor_source`).

    Examples
    --------
    >>> history = History()
    >>> _ = history.update(Job("1", "s", 0.0, user="u", requested_walltime_s=3600), 3.0)
    >>> _ = history.update(Job("2", "s", 0.0, user="u", requested_walltime_s=60), 1.0)
    >>> x, flags = history.features(Job("3", "s", 0.0, user="u", requested_walltime_s=3600))
    >>> x["h_user_last"], round(x["h_user_mean2"], 3), x["h_user_same_request"]
    (1.0, 2.703, 3.0)
    """

    def __init__(self, alpha: float = 0.3, max_keys: int = 50_000, requests_per_user: int = 16,
                 signature_runs: int = 11, shift_alpha: float = 0.1, agreement: float = 0.15,
                 stale_after_s: float = 90 * 86_400.0):
        self.alpha, self.max_keys, self.requests_per_user = alpha, max_keys, requests_per_user
        self.users: OrderedDict[str | None, _Record] = OrderedDict()
        self.apps: OrderedDict[str | None, _Record] = OrderedDict()
        # each signature's last runs, oldest first, after the submission time of the latest (at
        # [0]), as raw doubles: a third of a tuple of floats' memory
        self.signatures: OrderedDict[Signature, array[float]] = OrderedDict()
        self.signature_runs = signature_runs
        self.placements: dict[Placement, Placement] = {}
        self.walltimes: dict[float | None, float | None] = {}
        # runs of signatures not seen since the last announced change, after the regime (changes
        # before them) they ran in (at [0], where the time was); and per such regime and placement
        # (a signature's last part) how far their medians have been off since the change
        self.retired: OrderedDict[Signature, array[float]] = OrderedDict()
        self.shifts: dict[tuple[int, Placement], float] = {}
        self.shift_alpha = shift_alpha
        self.agreement = agreement
        self.stale_after_s = stale_after_s
        self.regime = 0

    def __getstate__(self) -> dict[str, Any]:
        """The state with its four big tables flat (a checkpoint pickles a few long lists, not tens of
        thousands of small objects): sealing a worker's checkpoint blocks its event loop, and pickling
        SDSC-SP2's history, 50,000 application records and 50,000 signatures' runs, took 0.25-0.68 s
        of it as objects and takes 0.19-0.25 s flat."""
        state = dict(vars(self))
        state["users"], state["apps"] = _flat_records(self.users), _flat_records(self.apps)
        state["signatures"], state["retired"] = _flat_runs(self.signatures), _flat_runs(self.retired)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["users"], state["apps"] = _records(state["users"]), _records(state["apps"])
        state["signatures"], state["retired"] = _runs(state["signatures"]), _runs(state["retired"])
        vars(self).update(state)

    @staticmethod
    def signature(job: Job) -> Signature:
        """What makes two jobs "the same job": who, what, how big, how long requested, and where
        (:meth:`placement`). Pure."""
        return job.user, job.app, job.requested_walltime_s, job.num_procs, History.placement(job)

    @staticmethod
    def shape(signature: Signature) -> Signature:
        """A signature without its application: the user's jobs of one request, size and placement.
        Their runs stand in for a job of a known user whose own signature has none. Pure.

        Executables identify little on some systems: SDSC-SP2 logs 48,616 of them for its 54,034
        jobs that ran (CTC-SP2 12,302 for 77,205), so most of its jobs had no runs of their own and
        fell back to the user's last job with the same request. With this fallback 64% of its jobs
        are predicted from agreeing runs (their own or their shape's) instead of 5%, and the default's
        whole-sequence error fell from 0.549 to 0.422 (CTC-SP2's 0.443 to 0.439; docs/results.md, "Choosing
        the default").
        """
        user, _, walltime, procs, placement = signature
        return user, None, walltime, procs, placement

    @staticmethod
    def placement(job: Job) -> Placement:
        """Where a job runs: its string features, with the health status of each that names a
        component with health reports (a job on a degraded file system runs somewhere else). Pure.

        On Cori the scratch file system had overloaded servers until August 2017 and none after:
        keyed by that status, the runs from before survive the months after. The error on the
        held-out jobs of March-August, after learning the rest, became 0.183 instead of 0.208
        (the default's BWT 0.0285 -> 0.0172).
        """
        strings = tuple(sorted((k, v) for k, v in job.features.items() if isinstance(v, str)))
        statuses = ((v, job.health.get(f"health.{v}.not_ok")) for _, v in strings)
        return strings + tuple((v, status) for v, status in statuses if status is not None)

    def _stored_key(self, job: Job) -> Signature:
        """:meth:`signature` with its requested time and string features shared: one copy of each
        value (few) instead of one per stored signature (many; on the synthetic cluster 20,646
        copies of 176 requested times in 40,229 signatures)."""
        user, app, walltime, procs, strings = self.signature(job)
        return user, app, self._shared(self.walltimes, walltime), procs, self._shared(self.placements, strings)

    def _shared(self, copies: dict[_Part, _Part], value: _Part) -> _Part:
        """The copy of ``value`` in ``copies`` (``value`` itself the first time); ``copies`` starts
        over beyond ``max_keys``, so that it stays bounded whatever the stream."""
        if len(copies) > self.max_keys:
            copies.clear()
        return copies.setdefault(value, value)

    def signature_median(self, job: Job) -> float | None:
        """Median log10 outcome of the last runs of the same job signature, if any. Pure.

        Runs from before the last announced change count only when the signature has not run since,
        and then shifted by how far runs of their regime have been off since the change on the job's
        placement.
        """
        return self._signature_median(self.signature(job), job.time)[0]

    def _signature_median(self, key: Signature, now: float) -> tuple[float | None, array[float] | None]:
        """:meth:`signature_median` for a signature, and the runs it is the median of if they are
        fresh for a job submitted at ``now``: since the last announced change, the latest at most
        ``stale_after_s`` old (``None`` for stale runs, retired runs or none)."""
        stored = self.signatures.get(key)
        if stored:
            runs = stored[1:]
            return _median(runs), (runs if now - stored[0] <= self.stale_after_s else None)
        if key not in self.retired:
            return None, None
        retired = self.retired[key]
        return _median(retired[1:]) + self.shifts.get((int(retired[0]), key[-1]), 0.0), None

    def on_change(self, component: str | None = None) -> str | None:
        """An announced change of ``component`` (hardware replaced, software patched or rolled
        back): retire the runs of every signature placed on it (its string features name it), or of
        every signature when none is or no component is named (a file system the jobs do not name
        may lie under any of them). The first runs after a change then say how far retired runs of
        each regime are off on each placement, and every retired signature is predicted with that
        shift until it runs again. Runs keep their regime: after a rollback, runs from before the
        patch need no shift and runs from under it do.

        Without it a history's anchors stayed in the old regime for up to ``signature_runs`` runs of
        every signature: on the synthetic cluster's I/O rollback the default took 717 jobs to be back
        within 10% of its error before the change, naive 258. Retiring every signature when one node
        group changed restarted the others' runs too, one run at a time: seed 3's replacement of g1
        was recovered from at job 2,334 instead of 648, seed 1's returning regime on g2 at 211
        instead of 13 (docs/results.md, "A change of one component touches its jobs only").
        """
        placed = self._placed_on(component)
        self._retire(placed or list(self.signatures))
        return component if placed else None

    def on_shift(self, component: str) -> None:
        """A detector saw the jobs on ``component`` run longer or shorter than predicted, unannounced
        (:class:`~pipeline.learning.shift.ShiftMonitor`): retire the runs of the signatures placed on
        it, as an announced change of it would (:meth:`on_change`).

        A signature's median of up to ``signature_runs`` runs follows a slowdown only after half of
        them reran: on the synthetic cluster the default was back within 10% of its error before
        g2's unannounced slowdown from job 0-1,232 (eight seeds), and from job 0-174 with this
        (docs/results.md, "A change of one component touches its jobs only")."""
        self._retire(self._placed_on(component))

    def _placed_on(self, component: str | None) -> list[Signature]:
        if component is None:
            return []
        return [key for key in self.signatures if places_on(key[-1], component)]

    def _retire(self, keys: list[Signature]) -> None:
        for key in keys:
            runs = self.signatures.pop(key)
            runs[0] = self.regime  # a retired signature's runs are never stale, only shifted
            self.retired[key] = runs
            self.retired.move_to_end(key)
        self.shifts.clear()
        self.regime += 1
        while len(self.retired) > self.max_keys:
            self.retired.popitem(last=False)

    def features(self, job: Job) -> tuple[dict[str, float], dict[str, float]]:
        """History values (log10 outcomes) and missing-value flags for ``job``. Pure."""
        x: dict[str, float] = {}
        flags: dict[str, float] = {}
        user = self.users.get(job.user) if job.user is not None else None
        if user is None:
            flags["h_user_unknown"] = 1.0
        else:
            x["h_user_last"] = user.last[-1]
            x["h_user_mean2"] = math.log10(sum(10.0**v for v in user.last) / len(user.last))
            x["h_user_ewma"] = user.ewma
            x["h_user_log_n"] = math.log10(1 + user.n)
            if job.requested_walltime_s and user.ratio_ewma is not None:
                x["h_user_ratio_request"] = math.log10(job.requested_walltime_s) + user.ratio_ewma
            same = _same_request(user, job)
            if same is None:
                flags["h_user_no_same_request"] = 1.0
            else:
                x["h_user_same_request"] = same
            same_app = user.by_app.get(job.app) if user.by_app is not None and job.app is not None else None
            if same_app is not None:
                x["h_user_same_app"] = same_app
        app = self.apps.get(job.app) if job.app is not None else None
        if app is None:
            flags["h_app_unknown"] = 1.0
        else:
            x["h_app_ewma"] = app.ewma
            x["h_app_last"] = app.last[-1]
        return x, flags

    def anchor(self, job: Job) -> float | None:
        """The most specific history value for ``job``, or ``None`` for a stranger. Pure.

        In order: the median of the last runs of the same signature (they survive in memory long
        after the user moved on, so a job like an old one is still predicted like it), else of the
        user's runs of the same shape under any application (:meth:`shape`), the user's last job
        with the same request, the user's last job, the application's last job.
        """
        return self._anchor(job)[0]

    def anchor_source(self, job: Job) -> tuple[float | None, str | None]:
        """:meth:`anchor`, and how closely it speaks for the job (``None`` for a stranger). Pure.

        - ``OWN_RUNS``: its signature's runs since the last announced change, agreeing with each
          other (median absolute deviation at most ``agreement``), the latest at most
          ``stale_after_s`` old;
        - ``SAME_REQUEST``: the user's last job with the same requested time;
        - ``ANOTHER_REQUEST``: the user's last job, when the job's requested time is not among the
          user's recent ones (``requests_per_user``);
        - ``OTHER``: anything else: signature runs that scatter, are stale or are retired by an
          announced change, the user's last job when the job requests no time, the application's
          last job.

        A signature that scatters lumps different jobs together (a user who names neither the
        application nor the time needed) or a job whose runtime depends on its input; its median
        then says little about the next run (docs/results.md, "Choosing the default"). Runs months
        old lost to naive on kinds of jobs back after 90+ days (SDSC-BLUE median / mean 0.415 /
        0.569 against 0.381 / 0.500) until they counted as weak (0.376 / 0.496; docs/results.md,
        "Kinds of jobs back after months away").
        """
        anchor, kind, runs = self._anchor(job)
        if runs is not None and anchor is not None and _median([abs(run - anchor) for run in runs]) > self.agreement:
            kind = OTHER
        return anchor, kind

    def _anchor(self, job: Job) -> tuple[float | None, str | None, array[float] | None]:
        """:meth:`anchor_source` before its runs are checked for agreement, and those runs (the
        signature's since the last announced change, if the anchor is their median). Pure.

        Only :meth:`anchor_source` pays for the check: learning needs the value alone and calls this
        through :meth:`anchor_or` on every completion."""
        key = self.signature(job)
        signature, runs = self._signature_median(key, job.time)
        if signature is None and _has_shape(job):
            signature, runs = self._signature_median(self.shape(key), job.time)
        if signature is not None:
            return signature, (OTHER if runs is None else OWN_RUNS), runs
        user = self.users.get(job.user) if job.user is not None else None
        if user is not None:
            same = _same_request(user, job)
            if same is not None:
                return same, SAME_REQUEST, None
            return user.last[-1], (ANOTHER_REQUEST if job.requested_walltime_s else OTHER), None
        app = self.apps.get(job.app) if job.app is not None else None
        return (app.last[-1], OTHER, None) if app is not None else (None, None, None)

    def anchor_basis(self, job: Job, fallback: float) -> tuple[float, str]:
        """:meth:`anchor_source`, with ``fallback`` as a stranger's anchor and ``STRANGER`` as its
        kind: what a prediction built on the anchor rests on. Pure."""
        anchor, kind = self.anchor_source(job)
        if anchor is None or kind is None:  # a stranger: the two are None together
            return fallback, STRANGER
        return anchor, kind

    def anchor_or(self, job: Job, fallback: float) -> float:
        """:meth:`anchor`, or ``fallback`` for a stranger: :meth:`anchor_basis`'s value without the
        agreement check, for learning, where the kind is not needed."""
        anchor = self.anchor(job)
        return fallback if anchor is None else anchor

    def update(self, job: Job, log_y: float) -> Signature:
        """Record that ``job`` completed with ``log10(outcome) = log_y``; return the key its
        signature is stored under, for callers that key records of their own by it (one key object
        then serves both tables)."""
        key = self._stored_key(job)
        self._store_run(key, log_y, job.time)
        if _has_shape(job):
            self._store_run(self.shape(key), log_y, job.time)
        if job.user is not None:
            user = self._touch(self.users, job.user)
            if job.requested_walltime_s:
                ratio = log_y - math.log10(job.requested_walltime_s)
                user.ratio_ewma = ratio if user.ratio_ewma is None else self._mix(user.ratio_ewma, ratio)
                user.by_request = self._remember(user.by_request, job.requested_walltime_s, log_y)
            if job.app is not None:
                user.by_app = self._remember(user.by_app, job.app, log_y)
            self._record(user, log_y)
        if job.app is not None:
            self._record(self._touch(self.apps, job.app), log_y)
        return key

    def _store_run(self, key: Signature, log_y: float, submitted: float) -> None:
        """Append a run (of a job submitted at ``submitted``) to a signature's, retiring the oldest
        beyond ``signature_runs``; a retired signature that runs again first says how far its
        regime's runs are off now."""
        runs = self.signatures.get(key)
        if runs is None:
            if key in self.retired:
                retired = self.retired.pop(key)
                regime = int(retired[0])
                shift = self.shifts.get((regime, key[-1]), 0.0)
                self.shifts[regime, key[-1]] = shift + self.shift_alpha * (log_y - _median(retired[1:]) - shift)
            runs = self.signatures[key] = array("d", [submitted])
            if len(self.signatures) + len(self.retired) > self.max_keys:
                (self.retired or self.signatures).popitem(last=False)
        self.signatures.move_to_end(key)
        runs[0] = submitted
        runs.append(log_y)
        if len(runs) > self.signature_runs + 1:
            runs.pop(1)

    def _touch(self, table: OrderedDict[str | None, _Record], key: str) -> _Record:
        record = table.get(key)
        if record is None:
            record = table[key] = _Record()
            if len(table) > self.max_keys:
                table.popitem(last=False)
        table.move_to_end(key)
        return record

    def _remember(self, latest: OrderedDict[_Key, float] | None, key: _Key, log_y: float) -> OrderedDict[_Key, float]:
        """``latest`` (created if need be) with ``key``'s outcome now ``log_y``, least recent dropped."""
        latest = OrderedDict() if latest is None else latest
        latest[key] = log_y
        latest.move_to_end(key)
        if len(latest) > self.requests_per_user:
            latest.popitem(last=False)
        return latest

    def _record(self, record: _Record, log_y: float) -> None:
        record.ewma = log_y if not record.n else self._mix(record.ewma, log_y)
        record.last = (*record.last[-1:], log_y)
        record.n += 1

    def _mix(self, old: float, new: float) -> float:
        return (1 - self.alpha) * old + self.alpha * new


_FlatRecords = list[tuple[str | None, tuple[Any, ...]]]
_FlatRuns = tuple[list[Signature], "array[int]", bytes]


def _flat_records(table: OrderedDict[str | None, _Record]) -> _FlatRecords:
    """Records as (key, fields) pairs, their maps as they are (``dataclasses.astuple`` copies them)."""
    return [(key, (r.last, r.ewma, r.ratio_ewma, r.n, r.by_request, r.by_app)) for key, r in table.items()]


def _records(flat: _FlatRecords) -> OrderedDict[str | None, _Record]:
    return OrderedDict((key, _Record(*fields)) for key, fields in flat)


def _flat_runs(table: OrderedDict[Signature, array[float]]) -> _FlatRuns:
    """Runs as their keys, their lengths and all their doubles in one string of bytes."""
    return list(table), array("q", map(len, table.values())), b"".join(map(array.tobytes, table.values()))


def _runs(flat: _FlatRuns) -> OrderedDict[Signature, array[float]]:
    keys, lengths, packed = flat
    values, runs, start = array("d"), OrderedDict(), 0
    values.frombytes(packed)
    for key, length in zip(keys, lengths, strict=True):
        runs[key] = values[start:start + length]
        start += length
    return runs


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def places_on(placement: Placement, component: str) -> bool:
    """Whether a job on ``placement`` runs on ``component`` (one of its string features names it). Pure."""
    return any(value == component for _, value in placement)


def _has_shape(job: Job) -> bool:
    """Whether ``job`` has a shape apart from its signature: a known user and an application. Without
    the user a shape lumps everyone's jobs of one size together: on SDSC-SP2 with neither users nor
    requested times the default's whole-sequence error rose from 0.636 to 1.043 (naive 0.748)."""
    return job.user is not None and job.app is not None


def _same_request(user: _Record, job: Job) -> float | None:
    """The user's last outcome among jobs with ``job``'s requested walltime, if any."""
    if user.by_request is None or not job.requested_walltime_s:
        return None
    return user.by_request.get(job.requested_walltime_s)
