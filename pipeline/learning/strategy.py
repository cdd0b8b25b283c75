"""The one interface every continual-learning strategy implements.

A strategy owns the model(s) of one system and one target. The Processor calls
:meth:`Strategy.predict_one` when a job is submitted and :meth:`Strategy.learn_one` when it
completes, in stream order; evaluation calls :meth:`Strategy.predict_one` on held-out jobs, so
predicting must never change state.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from pipeline.learning.drift import Alarm
from pipeline.learning.job import Job


@dataclass(frozen=True)
class StrategyContext:
    """What a strategy may be told when it is made.

    ``first_task_end`` is the end of the first evaluation task (for ``frozen``); ``seed`` seeds
    any randomness (replay sampling, splits), so runs are repeatable.
    """

    target: str
    first_task_end: float | None = None
    seed: int = 0


class Prediction(NamedTuple):
    """A prediction with what stands behind it.

    ``reference`` is the prediction the drift detectors score (see
    :meth:`Strategy.predict_detail`); ``basis`` names what the prediction rests on (e.g. the job's
    own runs, or nothing known about it), so that its interval is fitted on predictions of the same
    kind (:class:`~pipeline.learning.interval.GroupedInterval`); None: the strategy does not say.
    """

    value: float
    reference: float
    basis: str | None = None


class Strategy(abc.ABC):
    """Predicts a positive target for a job and learns from each completed job."""

    name: ClassVar[str]

    def __init__(self, context: StrategyContext):
        self.target = context.target
        self.version = 0

    @abc.abstractmethod
    def predict_one(self, job: Job) -> float:
        """The predicted target value (positive, in the target's units). Pure."""

    def predict_detail(self, job: Job) -> Prediction:
        """The prediction, the one the drift detectors score (default: the same) and its basis
        (default: None). Pure.

        A strategy whose prediction follows each job's own recent runs absorbs a system change
        within a few runs per job, before any detector sees it; it gives a steadier reference."""
        predicted = self.predict_one(job)
        return Prediction(predicted, predicted)

    def predict_many(self, jobs: Sequence[Job]) -> list[float]:
        """Predictions for many jobs at once (evaluation scores held-out sets this way). Pure."""
        return [self.predict_one(job) for job in jobs]

    @abc.abstractmethod
    def learn_one(self, job: Job, y: float) -> None:
        """Learn that ``job`` measured ``y`` (positive)."""

    def observe(self, event: Mapping[str, Any]) -> None:  # noqa: B027 - optional hook
        """See a node-health event (health state, known change points). Default: ignore."""

    def on_drift(self, alarm: Alarm) -> None:  # noqa: B027 - optional hook
        """React to a drift alarm or an announced change on this strategy's error stream."""

    def on_shift(self, component: str) -> None:  # noqa: B027 - optional hook
        """React to a component's shift: its jobs (``component`` as their features name it, e.g.
        ``g2``) run longer or shorter than predicted lately. Default: ignore."""

    @property
    def regime(self) -> str | None:
        """Name of the regime the strategy currently predicts with, if it tracks regimes."""
        return None

    @property
    def buffer_size(self) -> int:
        """Samples held in replay memory."""
        return 0
