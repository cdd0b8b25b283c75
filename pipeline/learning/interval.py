"""Prediction intervals from the recent residuals of a model (split-conformal in spirit), pooled or
per group of jobs."""

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
        low, high = self.low.get(), self.high.get()
        if self.n < 10 or low is None or high is None:
            return predicted * 10.0**-self.cold_width, predicted * 10.0**self.cold_width
        return predicted * 10.0 ** min(low, 0.0), predicted * 10.0 ** max(high, 0.0)


class GroupedInterval:
    """One :class:`ResidualInterval` per group of jobs, and a pooled one for the rest.

    A strategy names what each prediction rests on (its *basis*: a job's own runs, a user's last
    job, nothing at all); predictions on different bases err by different amounts, and one pooled
    interval covers the well-founded ones too often and the guesses too seldom. Each group's
    interval is fitted on that group's residuals alone, which is Mondrian conformal prediction
    [1]_: coverage holds within every group, not only on average. A group uses the pooled
    interval until it has ``min_group`` residuals of its own. Bases are few (``consensus`` names
    five), so the groups need no bound of their own.

    Parameters
    ----------
    coverage, window
        As for :class:`ResidualInterval`, per group.
    min_group
        Residuals a group needs before its own interval is used.

    References
    ----------
    .. [1] Vovk, V., Gammerman, A., Shafer, G. (2005). *Algorithmic Learning in a Random World*,
       section 4.5 (Mondrian conformal predictors). Springer.

    Examples
    --------
    >>> interval = GroupedInterval(coverage=0.8, window=100, min_group=20)
    >>> for r in range(-50, 51):
    ...     interval.update(r / 100, "guess")
    ...     interval.update(r / 1000, "own runs")
    >>> [round(bound) for bound in interval.bounds(100.0, "own runs")]
    [91, 110]
    >>> [round(bound) for bound in interval.bounds(100.0, "guess")]
    [41, 252]
    """

    def __init__(self, coverage: float = 0.8, window: int = 1000, min_group: int = 100):
        self.coverage, self.window, self.min_group = coverage, window, min_group
        self.pooled = ResidualInterval(coverage, window)
        self.groups: dict[str, ResidualInterval] = {}

    def update(self, log_residual: float, group: str | None = None) -> None:
        """Record ``log10(observed / predicted)`` of a prediction on ``group`` (None: no group)."""
        self.pooled.update(log_residual)
        if group is not None:
            interval = self.groups.get(group)
            if interval is None:
                interval = self.groups[group] = ResidualInterval(self.coverage, self.window)
            interval.update(log_residual)

    def bounds(self, predicted: float, group: str | None = None) -> tuple[float, float]:
        """Low and high bounds around ``predicted``, from ``group``'s residuals once it has enough."""
        interval = self.groups.get(group) if group is not None else None
        if interval is None or interval.n < self.min_group:
            interval = self.pooled
        return interval.bounds(predicted)
