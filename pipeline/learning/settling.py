"""A correction of a strategy's predictions while its models settle after an announced change."""

from __future__ import annotations

from pipeline.learning.history import Placement, places_on


class Settling:
    """Per placement, an exponentially weighted mean of recent errors, added to predictions for a while.

    After an announced change the models re-learn the new level slowly: SGD with the absolute loss
    moves a prediction by about one step size per job, whatever the error (on the synthetic
    cluster's I/O rollback the default took 307 jobs to be back within 10% of its error before,
    naive 7, because the default had the lower error to return to). For ``jobs`` learned jobs after
    each change this adds to a prediction how far predictions on the same placement (the job's
    string features: where it runs) have been off since, so that a change on one node group does
    not move the others. The correction fades out over its last ``fade`` jobs; between changes it
    is zero, and data without announced changes never sees it.

    A change of a component the jobs name (a node group) settles only the jobs placed on it: the
    others keep their own runs (:meth:`History.on_change`) and their usual vote. Settling every job
    held the synthetic cluster's error after g2's repair above its level before for longer (seed 1:
    back from job 282 instead of 0; docs/results.md, "A change of one component touches its jobs
    only").

    Parameters
    ----------
    jobs
        Learned jobs after a change during which the correction applies.
    alpha
        Weight of the newest error in each placement's mean.
    fade
        The correction's last jobs, over which it fades linearly to zero.

    Examples
    --------
    >>> settling = Settling(jobs=500, alpha=0.5)
    >>> settling.start()
    >>> settling.update(("g1",), 1.0)
    >>> settling.update(("g1",), 1.0)
    >>> settling.offset(("g1",)), settling.offset(("g2",))
    (0.75, 0.0)
    """

    def __init__(self, jobs: int = 500, alpha: float = 0.05, fade: int = 100):
        self.jobs, self.alpha, self.fade = jobs, alpha, fade
        self.offsets: dict[Placement, float] = {}
        self.left = 0
        self.component: str | None = None

    @property
    def active(self) -> bool:
        return self.left > 0

    def covers(self, placement: Placement) -> bool:
        """Whether a job on ``placement`` is settling: the change's component is part of it (any
        placement when the change named none). Pure."""
        return self.left > 0 and (self.component is None or places_on(placement, self.component))

    def start(self, component: str | None = None) -> None:
        """An announced change (of ``component``, if the jobs name it): forget the last change's
        errors and correct for the next ``jobs``."""
        self.offsets, self.left, self.component = {}, self.jobs, component

    def offset(self, placement: Placement) -> float:
        """What to add to a log10 prediction for a job on ``placement``. Pure."""
        if not self.left:
            return 0.0
        return self.offsets.get(placement, 0.0) * min(1.0, self.left / self.fade)

    def update(self, placement: Placement, error: float) -> None:
        """One learned job's error (log10 truth minus the uncorrected prediction)."""
        if self.left:
            mean = self.offsets.get(placement, 0.0)
            self.offsets[placement] = mean + self.alpha * (error - mean)
            self.left -= 1
