"""Online regressors on a log target, built from river parts.

Targets are positive and heavy-tailed, so models learn ``log10(y)``. Plain SGD on raw log-runtimes
can diverge (STACK.md measured errors of 1e9), so numeric inputs are standardized, the target is
standardized and gradients are clipped. The loss is the absolute error, the one the protocol scores
(|log10 ratio|): on SDSC-SP2 it cut naive's prequential median from 0.301 (squared loss) to 0.280,
and it keeps a few extreme jobs from dragging the weights. The optimizer is plain SGD because its update touches only
the weights of the features present: river's Adam and AdaGrad step every weight ever seen, and with
one-hot keys for 50k executables (SDSC-SP2) that made learning 70x slower (525 vs 36k events/s).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from river import linear_model, optim, preprocessing

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
    """Linear model of ``log10(y)`` on standardized numbers plus fixed-scale inputs.

    Parameters
    ----------
    lr
        SGD step size (on standardized inputs and target).
    l2
        Ridge penalty on the weights.

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

    def __init__(self, lr: float = 0.01, l2: float = 0.0):
        self.scaler = preprocessing.StandardScaler()
        self.model = preprocessing.TargetStandardScaler(
            linear_model.LinearRegression(
                optimizer=optim.SGD(lr), loss=optim.losses.Absolute(), intercept_lr=lr, l2=l2,
                clip_gradient=10.0,
            )
        )

    @classmethod
    def warm_started(cls, samples: Iterable[Sample], lr: float = 0.002) -> LogLinearRegressor:
        """A new model after one pass over ``samples`` (a new regime's recent jobs)."""
        model = cls(lr)
        for sample in samples:
            model.learn(sample)
        return model

    def _x(self, sample: Sample) -> dict[str, float]:
        x = self.scaler.transform_one(sample.scaled)
        x.update(sample.fixed)
        return x

    def predict(self, sample: Sample) -> float:
        """The predicted ``log10`` of the target."""
        return self.model.predict_one(self._x(sample))

    def learn(self, sample: Sample, fit_scaler: bool = True) -> None:
        """Learn one sample; replayed samples pass ``fit_scaler=False`` so old inputs do not count twice."""
        if fit_scaler:
            self.scaler.learn_one(sample.scaled)
        self.model.learn_one(self._x(sample), sample.log_y)
