"""Online regressors on a log target, built from river parts.

Targets are positive and heavy-tailed, so models learn ``log10(y)``. Plain SGD on raw log-runtimes
can diverge (STACK.md measured errors of 1e9), so numeric inputs are standardized, the target is
standardized and gradients are clipped. The optimizer is plain SGD because its update touches only
the weights of the features present: river's Adam and AdaGrad step every weight ever seen, and with
one-hot keys for 50k executables (SDSC-SP2) that made learning 70x slower (525 vs 36k events/s).
"""

from __future__ import annotations

from river import linear_model, optim, preprocessing

from pipeline.learning.features import health_features, numeric_features, one_hot
from pipeline.learning.job import Job


class LogLinearRegressor:
    """Linear model of ``log10(y)`` on scaled numeric features and one-hot categoricals.

    Parameters
    ----------
    lr
        SGD step size (on standardized inputs and target).
    l2
        Ridge penalty on the weights.

    Examples
    --------
    >>> model = LogLinearRegressor()
    >>> for _ in range(300):
    ...     model.learn_one(Job("1", "s", 0.0, app="a"), 3.0)
    ...     model.learn_one(Job("2", "s", 0.0, app="b"), 1.0)
    >>> round(model.predict_one(Job("3", "s", 0.0, app="a")), 1)
    3.0
    """

    def __init__(self, lr: float = 0.03, l2: float = 0.0):
        self.scaler = preprocessing.StandardScaler()
        self.model = preprocessing.TargetStandardScaler(
            linear_model.LinearRegression(
                optimizer=optim.SGD(lr), intercept_lr=lr, l2=l2, clip_gradient=10.0,
            )
        )

    def _inputs(self, job: Job, learn: bool) -> dict[str, float]:
        numeric = numeric_features(job)
        if learn:
            self.scaler.learn_one(numeric)
        x = self.scaler.transform_one(numeric)
        x.update(health_features(job))
        x.update(one_hot(job))
        return x

    def predict_one(self, job: Job) -> float:
        """The predicted ``log10`` of the target."""
        return self.model.predict_one(self._inputs(job, learn=False))

    def learn_one(self, job: Job, log_y: float) -> None:
        """Learn one job whose target was ``10 ** log_y``."""
        self.model.learn_one(self._inputs(job, learn=True), log_y)
