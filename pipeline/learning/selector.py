"""``select``: several predictors, and for each user the one that has been right lately.

Runtime predictors disagree in useful ways: the same user's last job with the same request is
right to within a few percent for most repeated jobs and badly wrong for the rest; a model over job
features and history is rarely exact and rarely far off. Tracking each predictor's recent error per
user (an exponentially weighted mean of its |log10 ratio| on that user's completed jobs) and
predicting with the best one gets the first's median and the second's mean. Users without a record
of their own follow the predictor with the best recent error overall. The history model learns
with experience replay, so the model behind the fallback does not forget old regimes.
"""

from __future__ import annotations

import math
from array import array
from collections import OrderedDict
from collections.abc import Hashable

from pipeline.learning.consensus import Inputs, Predictors
from pipeline.learning.job import Job
from pipeline.learning.strategy import Prediction, StrategyContext

CANDIDATES = ("anchor", "same_app", "mean2", "model", "plain")


class Selector(Predictors):
    """Per-user choice among history heuristics and two online linear models, by recent error.

    The candidates are the three predictors of :class:`~pipeline.learning.consensus.Predictors`
    (anchor, anchored model, plain model) and two more history heuristics (the user's last outcome
    with the same application, the mean of the user's last two).

    Parameters
    ----------
    fade
        Weight of the newest error in each exponentially weighted error.
    capacity, k
        Replay reservoir size and replayed samples per new one for the history model.
    max_users
        Users whose errors are tracked (least recently seen forgotten beyond this).
    cap
        Largest error one job adds to a record (log10), so one wild job does not discredit a predictor.

    Examples
    --------
    >>> selector = Selector(StrategyContext("runtime_s"))
    >>> for i in range(300):
    ...     selector.learn_one(Job(str(i), "s", i, user="u", requested_walltime_s=600), 60.0)
    >>> round(selector.predict_one(Job("x", "s", 300, user="u", requested_walltime_s=600)))
    60
    """

    name = "select"

    def __init__(self, context: StrategyContext, fade: float = 0.3, capacity: int = 5000, k: int = 1,
                 max_users: int = 50_000, cap: float = 0.3):
        super().__init__(context, capacity, k, replay_plain=False)
        self.fade, self.max_users, self.cap = fade, max_users, cap
        # recent error of each candidate, in CANDIDATES order (raw doubles: tens of thousands of records)
        self.user_errors: OrderedDict[Hashable, array[float]] = OrderedDict()
        self.global_errors = array("d", [1.0] * len(CANDIDATES))

    def _candidates(self, inputs: Inputs, only: str | None = None) -> dict[str, float]:
        """Every candidate's log10 prediction (or only ``only``'s: the models run only when chosen)."""
        values, anchor = inputs.history, inputs.anchor
        predictions = {"anchor": anchor, "same_app": values.get("h_user_same_app", anchor),
                       "mean2": values.get("h_user_mean2", anchor)}
        if only in (None, "model"):
            predictions["model"] = self._model(inputs)
        if only in (None, "plain"):
            predictions["plain"] = self._plain(inputs)
        return predictions

    def _errors(self, job: Job) -> array[float]:
        """The most specific record of errors for ``job``: its signature's, its owner's, or the global one."""
        for key in (self.history.signature(job), _owner(job)):
            record = self.user_errors.get(key)
            if record is not None:
                return record
        return self.global_errors

    def predict_one(self, job: Job) -> float:
        return self.predict_detail(job).value

    def predict_detail(self, job: Job) -> Prediction:
        """The chosen candidate's prediction, with the candidate as its basis: each candidate errs by
        its own amount, so each gets its own interval."""
        errors = self._errors(job)
        best = CANDIDATES[min(range(len(CANDIDATES)), key=errors.__getitem__)]
        predicted = self._output(self._candidates(self._inputs(job), only=best)[best])
        return Prediction(predicted, predicted, best)

    def learn_one(self, job: Job, y: float) -> None:
        log_y = math.log10(y)
        inputs = self._inputs(job)
        predictions = self._candidates(inputs)
        signature = self._learn(job, log_y, inputs)  # one key object for the error records and the history
        self._track((signature, _owner(job)),
                    array("d", [min(abs(predictions[c] - log_y), self.cap) for c in CANDIDATES]))

    def _mix(self, old: array[float], new: array[float]) -> array[float]:
        return array("d", [(1 - self.fade) * o + self.fade * e for o, e in zip(old, new, strict=True)])

    def _track(self, keys: tuple[Hashable, ...], errors: array[float]) -> None:
        self.global_errors = self._mix(self.global_errors, errors)
        for key in keys:
            if key is None:
                continue
            mine = self.user_errors.get(key)
            self.user_errors[key] = errors if mine is None else self._mix(mine, errors)
            self.user_errors.move_to_end(key)
            if len(self.user_errors) > self.max_users:
                self.user_errors.popitem(last=False)


def _owner(job: Job) -> Hashable:
    """Whose errors guide a job without a signature record: its user's, or where there are no users
    (as on Cori) its application's."""
    return job.user if job.user is not None else job.app
