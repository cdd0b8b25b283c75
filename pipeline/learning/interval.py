"""Prediction intervals from the recent residuals of a model (split-conformal in spirit)."""

from __future__ import annotations

from river import stats


class ResidualInterval:
    """Interval ``[p * 10**q_low, p * 10**q_high]`` from rolling quantiles of log10 residuals.

    Parameters
    ----------
    coverage
        Share of outcomes the interval should hold (0.8 -> the 10% and 90% residual quantiles).
    window
        How many recent residuals to use; recent ones matter because the system drifts.

    Examples
    --------
    >>> interval = ResidualInterval(coverage=0.8, window=100)
    >>> for r in range(-50, 51):
    ...     interval.update(r / 100)
    >>> low, high = interval.bounds(100.0)
    >>> round(low), round(high)
    (41, 252)
    """

    def __init__(self, coverage: float = 0.8, window: int = 1000, cold_width: float = 1.0):
        tail = (1.0 - coverage) / 2.0
        self.low = stats.RollingQuantile(tail, window)
        self.high = stats.RollingQuantile(1.0 - tail, window)
        self.cold_width = cold_width
        self.n = 0

    def update(self, log_residual: float) -> None:
        """Record ``log10(observed / predicted)``."""
        self.low.update(log_residual)
        self.high.update(log_residual)
        self.n += 1

    def bounds(self, predicted: float) -> tuple[float, float]:
        """Low and high bounds around ``predicted``; one decade each way until residuals exist."""
        if self.n < 10:
            return predicted * 10.0**-self.cold_width, predicted * 10.0**self.cold_width
        low, high = min(self.low.get(), 0.0), max(self.high.get(), 0.0)
        return predicted * 10.0**low, predicted * 10.0**high
