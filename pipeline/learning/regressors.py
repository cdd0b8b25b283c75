"""Online linear regression on a log target: river's scaled SGD regressor, fused into one class.

Targets are positive and heavy-tailed, so models learn ``log10(y)``. Plain SGD on raw log-runtimes
can diverge (STACK.md measured errors of 1e9), so numeric inputs are standardized and the target is
standardized. The loss is the absolute error, the one the protocol scores
(|log10 ratio|): on SDSC-SP2 it cut naive's prequential median from 0.301 (squared loss) to 0.280,
and it keeps a few extreme jobs from dragging the weights. The optimizer is plain SGD because its update touches only
the weights of the features present: river's Adam and AdaGrad step every weight ever seen, and with
one-hot keys for 50k executables (SDSC-SP2) that made learning 70x slower (525 vs 36k events/s).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from pipeline.learning.features import health_features, numeric_features, one_hot
from pipeline.learning.history import History
from pipeline.learning.job import Job


@dataclass(frozen=True, slots=True)
class Sample:
    """A model's inputs for one job: numbers to standardize, inputs used as they are, the log target.

    Replay memories store samples, so an old job is relearned exactly as it was first seen.
    """

    scaled: dict[str, float]
    fixed: dict[str, float]
    log_y: float = 0.0

    def __reduce__(self) -> tuple[type[Sample], tuple[dict[str, float], dict[str, float], float]]:
        # pickled as a call, not as slots: a checkpoint holds 10,000 samples in its replay buffer, and
        # this cut the time pickling them took from 77 to 45 ms (SDSC-SP2's first 20,000 jobs)
        return Sample, (self.scaled, self.fixed, self.log_y)


class Regressor(Protocol):
    """An online model of a log10 target: what :class:`~pipeline.learning.baselines.Naive` fine-tunes."""

    def predict(self, sample: Sample) -> float: ...

    def learn(self, sample: Sample) -> None: ...


def make_sample(job: Job, history: History | None = None, log_y: float = 0.0) -> Sample:
    """The inputs of ``job``: request sizes and history values scaled; one-hots, flags, health fixed."""
    scaled = numeric_features(job)
    fixed = {**health_features(job), **one_hot(job)}
    if history is not None:
        values, flags = history.features(job)
        scaled.update(values)
        fixed.update(flags)
    return Sample(scaled, fixed, log_y)


def anchored(sample: Sample, anchor: float, log_y: float = 0.0) -> Sample:
    """``sample`` relative to an anchor prediction (log10): the target and the history values become
    offsets from it, so a model learns only the correction to the anchor."""
    scaled = {k: v - anchor if k.startswith("h_") and not k.endswith("_n") else v for k, v in sample.scaled.items()}
    return Sample(scaled, sample.fixed, log_y - anchor)


def anchored_sample(job: Job, history: History, anchor: float, log_y: float = 0.0) -> Sample:
    """The inputs of ``job`` with history, relative to ``anchor`` (see :func:`anchored`)."""
    return anchored(make_sample(job, history), anchor, log_y)


class LogLinearRegressor:
    """Linear model of ``log10(y)`` on standardized numbers plus fixed-scale inputs, trained by SGD
    on the absolute error.

    The arithmetic is river's ``StandardScaler() | TargetStandardScaler(LinearRegression(
    optimizer=optim.SGD(lr), loss=optim.losses.Absolute(), intercept_lr=lr))``, step for step
    (Welford means and variances per input, a sample variance for the target, the sign of the error
    as the gradient), written out in one class: the composition spent most of its time passing
    dictionaries between its parts, and every strategy learns two to four samples per job.
    ``tests/test_regressors.py`` checks the predictions against river's composition.

    Parameters
    ----------
    lr
        SGD step size (on standardized inputs and target), for the weights and the intercept.

    Examples
    --------
    >>> model = LogLinearRegressor()
    >>> a, b = Sample({}, {"app=a": 1.0}, 3.0), Sample({}, {"app=b": 1.0}, 1.0)
    >>> for _ in range(300):
    ...     model.learn(a)
    ...     model.learn(b)
    >>> round(model.predict(a), 1)
    3.0
    """

    def __init__(self, lr: float = 0.01):
        self.lr = lr
        # per scaled input: observations, mean, population variance and its square root (river's
        # StandardScaler; the root kept because every prediction divides by it)
        self.counts: dict[str, int] = {}
        self.means: dict[str, float] = {}
        self.variances: dict[str, float] = {}
        self.stds: dict[str, float] = {}
        self.weights: dict[str, float] = {}
        self.intercept = 0.0
        # the target's observations, mean and sum of squared deviations (sample variance, ddof 1)
        self.y_n = 0
        self.y_mean = 0.0
        self.y_ss = 0.0

    @classmethod
    def warm_started(cls, samples: Iterable[Sample], lr: float = 0.002) -> LogLinearRegressor:
        """A new model after one pass over ``samples`` (a new regime's recent jobs)."""
        model = cls(lr)
        for sample in samples:
            model.learn(sample)
        return model

    def _x(self, sample: Sample) -> tuple[list[tuple[str, float]], float]:
        """The inputs that move the prediction (standardized numbers with a spread, then the fixed
        ones, in river's order so that sums round alike) and the raw linear output on them, in one
        pass: every strategy learns two to four samples per job."""
        means, stds, weights = self.means, self.stds, self.weights
        x = []
        terms = []
        for key, value in sample.scaled.items():
            std = stds.get(key, 0.0)
            if std:  # a number without spread yet standardizes to 0: it adds nothing and learns nothing
                z = (value - means[key]) / std
                x.append((key, z))
                terms.append(weights.get(key, 0.0) * z)
        for key, value in sample.fixed.items():
            x.append((key, value))
            terms.append(weights.get(key, 0.0) * value)
        return x, sum(terms) + self.intercept

    def _y_std(self) -> float:
        return (self.y_ss / (self.y_n - 1)) ** 0.5 if self.y_n > 1 else 0.0

    def predict(self, sample: Sample) -> float:
        """The predicted ``log10`` of the target."""
        return self._x(sample)[1] * self._y_std() + self.y_mean

    def learn(self, sample: Sample, fit_scaler: bool = True) -> None:
        """Learn one sample; replayed samples pass ``fit_scaler=False`` so old inputs do not count twice
        (the target's scale learns from every sample, replayed or not, as river's does)."""
        if fit_scaler:
            self._fit_scaler(sample.scaled)
        x, raw = self._x(sample)
        self.y_n += 1
        old_mean = self.y_mean
        self.y_mean += (1.0 / self.y_n) * (sample.log_y - old_mean)
        self.y_ss += (sample.log_y - old_mean) * (sample.log_y - self.y_mean)
        y_std = self._y_std()
        target = (sample.log_y - self.y_mean) / y_std if y_std else 0.0
        step = self.lr if raw > target else -self.lr  # the absolute error's gradient is its sign
        self.intercept -= step
        weights = self.weights
        for key, value in x:
            weights[key] = weights.get(key, 0.0) - step * value

    def _fit_scaler(self, scaled: dict[str, float]) -> None:
        counts, means, variances, stds = self.counts, self.means, self.variances, self.stds
        for key, value in scaled.items():
            n = counts[key] = counts.get(key, 0) + 1
            old_mean = means.get(key, 0.0)
            mean = means[key] = old_mean + (value - old_mean) / n
            old = variances.get(key, 0.0)
            variance = variances[key] = old + ((value - old_mean) * (value - mean) - old) / n
            stds[key] = variance**0.5
