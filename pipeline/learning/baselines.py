"""Baseline strategies: the references every continual learner is measured against.

- ``naive``: one online regressor that learns each completed job and nothing else.
- ``frozen``: the same regressor, learning the first task only.
- ``median``: the running median of all outcomes so far (a model that learned nothing per job).
- ``last2``: the mean of the user's last two completed outcomes (Tsafrir, Etsion & Feitelson,
  "Backfilling using system-generated predictions rather than user runtime estimates",
  IEEE TPDS 18(6), 2007).
"""

from __future__ import annotations

import math
from collections import deque

from river import stats

from pipeline.learning.job import Job
from pipeline.learning.regressors import LogLinearRegressor, Regressor, Sample, make_sample
from pipeline.learning.strategy import Strategy, StrategyContext

RUNTIME = "runtime_s"


class ObservedRange:
    """The range of log10 outcomes seen so far, widened by a margin, to clamp predictions.

    A linear model extrapolating from an unusual input must not predict a runtime of a century.
    """

    def __init__(self, margin: float = 1.0):
        self.low, self.high, self.margin = math.inf, -math.inf, margin

    def update(self, log_y: float) -> None:
        self.low, self.high = min(self.low, log_y), max(self.high, log_y)

    def clamp(self, log_y: float) -> float:
        return min(max(log_y, self.low - self.margin), self.high + self.margin)


def cold_start(job: Job, target: str) -> float:
    """A prediction before anything was learned: the requested time for runtimes, else 1."""
    if target == RUNTIME and job.requested_walltime_s:
        return float(job.requested_walltime_s)
    return 1.0


def log_cold_start(job: Job, target: str) -> float:
    """:func:`cold_start` in log10: the anchor of a job the history knows nothing about."""
    return math.log10(cold_start(job, target))


class Naive(Strategy):
    """Online fine-tuning: learn each completed job with one :class:`LogLinearRegressor`.

    Examples
    --------
    >>> naive = Naive(StrategyContext("runtime_s"))
    >>> for i in range(200):
    ...     naive.learn_one(Job(str(i), "s", i, app="a"), 100.0)
    >>> round(naive.predict_one(Job("x", "s", 200, app="a")))
    100
    """

    name = "naive"

    def __init__(self, context: StrategyContext):
        super().__init__(context)
        self.model = self.make_model(context)
        self.range = ObservedRange()
        self.n_learned = 0

    def make_model(self, context: StrategyContext) -> Regressor:
        """The online model (subclasses bring their own, e.g. a neural network)."""
        return LogLinearRegressor()

    def predict_one(self, job: Job) -> float:
        if not self.n_learned:
            return cold_start(job, self.target)
        return float(10.0 ** self.range.clamp(self.model.predict(make_sample(job))))

    def learn_one(self, job: Job, y: float) -> None:
        sample = make_sample(job, log_y=math.log10(y))
        self.learn_sample(sample)
        self.range.update(sample.log_y)
        self.n_learned += 1

    def learn_sample(self, sample: Sample) -> None:
        """Learn one new sample (subclasses add replay)."""
        self.model.learn(sample)


class Frozen(Naive):
    """Learns the first task only, then never again: what a model trained once and deployed does.

    The first task ends at ``context.first_task_end`` (submit time); without one, after
    ``first_n`` completions.
    """

    name = "frozen"

    def __init__(self, context: StrategyContext, first_n: int = 10_000):
        super().__init__(context)
        self.until = context.first_task_end
        self.first_n = first_n

    def learn_one(self, job: Job, y: float) -> None:
        in_first_task = job.time < self.until if self.until is not None else self.n_learned < self.first_n
        if in_first_task:
            super().learn_one(job, y)


class RunningMedian(Strategy):
    """Predicts the median of every outcome seen so far (river's P² quantile estimate)."""

    name = "median"

    def __init__(self, context: StrategyContext):
        super().__init__(context)
        self.median = stats.Quantile(0.5)

    def predict_one(self, job: Job) -> float:
        median = self.median.get()
        if median is None:  # nothing learned yet
            return cold_start(job, self.target)
        return max(median, 1e-9)

    def learn_one(self, job: Job, y: float) -> None:
        self.median.update(y)


class Last2(Strategy):
    """Mean of the same user's last two completed outcomes, in completion order.

    Falls back to the requested time (runtimes only), then to the running median. Runtime
    predictions are floored at 1 s, as in the reference.

    Examples
    --------
    >>> last2 = Last2(StrategyContext("runtime_s"))
    >>> last2.predict_one(Job("1", "s", 0, user="u", requested_walltime_s=3600))
    3600.0
    >>> for y in (100.0, 200.0, 400.0):
    ...     last2.learn_one(Job("j", "s", 0, user="u"), y)
    >>> last2.predict_one(Job("2", "s", 0, user="u"))
    300.0
    """

    name = "last2"

    def __init__(self, context: StrategyContext):
        super().__init__(context)
        self.history: dict[str | None, deque[float]] = {}
        self.fallback = RunningMedian(context)

    def predict_one(self, job: Job) -> float:
        last = self.history.get(job.user)
        if last:
            prediction = sum(last) / len(last)
        elif self.target == RUNTIME and job.requested_walltime_s:
            prediction = float(job.requested_walltime_s)
        else:
            prediction = self.fallback.predict_one(job)
        return max(prediction, 1.0) if self.target == RUNTIME else prediction

    def learn_one(self, job: Job, y: float) -> None:
        self.history.setdefault(job.user, deque(maxlen=2)).append(y)
        self.fallback.learn_one(job, y)
