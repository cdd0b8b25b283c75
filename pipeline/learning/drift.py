"""Drift detection on the stream of prediction errors of one system and target.

Three detectors from river watch the same stream: ADWIN (Bifet & Gavaldà, "Learning from
Time-Changing Data with Adaptive Windowing", SDM 2007) for a change of the mean in either
direction, and Page-Hinkley (Page, "Continuous Inspection Schemes", Biometrika 1954) once for a
rise and once for a fall. Errors are heavy-tailed and their scale differs tenfold between systems,
so Page-Hinkley sees them standardized by a slow running mean and deviation and clipped at 4 sigma:
its thresholds then mean the same thing on every system. Defaults were tuned on stationary synthetic
streams to stay under one false alarm per 100k jobs (see tests/test_drift.py).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from river import drift, stats


@dataclass(frozen=True)
class Alarm:
    """One detector's alarm: where in the stream, the error level before and after, and for an
    announced change the component it names."""

    detector: str
    position: int
    time: float
    error_before: float
    error_after: float
    component: str | None = None

    @property
    def calls_for_a_new_model(self) -> bool:
        """An announced change, or a detected one that made errors worse (a fall needs no repair)."""
        return self.detector == "known-change" or self.error_after > self.error_before


class DriftMonitor:
    """ADWIN and two-sided Page-Hinkley over ``abs(log10(predicted / observed))``.

    Parameters
    ----------
    adwin_delta
        ADWIN's confidence; smaller = fewer, later alarms.
    ph_threshold, ph_delta
        Page-Hinkley's alarm threshold and tolerated drift, in standard deviations of the error.
    warmup
        Errors seen before the detectors start (a young model's errors fall as it learns; on
        stationary synthetic streams most false alarms came in the first 5,000 jobs).
    cooldown
        Errors after an alarm during which the same detector stays quiet.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(1)
    >>> monitor = DriftMonitor()
    >>> alarms = [a for i in range(8000)
    ...           for a in monitor.update(abs(rng.gauss(0, 0.1)) + (0.3 if i >= 6000 else 0.0), float(i))]
    >>> alarms[0].position >= 6000, alarms[0].position < 6100, alarms[0].error_after > alarms[0].error_before
    (True, True, True)
    """

    def __init__(self, adwin_delta: float = 1e-6, ph_threshold: float = 80.0, ph_delta: float = 0.25,
                 warmup: int = 3000, cooldown: int = 500, scale_window: int = 2000):
        self.detectors = {
            "adwin": drift.ADWIN(delta=adwin_delta),
            "page-hinkley-up": drift.PageHinkley(min_instances=100, delta=ph_delta, threshold=ph_threshold,
                                                 alpha=1.0, mode="up"),
            "page-hinkley-down": drift.PageHinkley(min_instances=100, delta=ph_delta, threshold=ph_threshold,
                                                   alpha=1.0, mode="down"),
        }
        self.scale = stats.EWVar(fading_factor=1.0 / scale_window)
        self.level = stats.EWMean(fading_factor=1.0 / scale_window)
        self.recent: deque[float] = deque(maxlen=600)
        self.warmup, self.cooldown = warmup, cooldown
        self.last_alarm = dict.fromkeys(self.detectors, -cooldown)
        self.n = 0

    def update(self, error: float, time: float) -> list[Alarm]:
        """Feed one error; return the alarms it raised (usually none)."""
        self.n += 1
        self.recent.append(error)
        std = self.scale.get() ** 0.5 if self.n > 30 else 0.0
        z = max(-4.0, min(4.0, (error - self.level.get()) / std)) if std > 0 else 0.0
        self.scale.update(error)
        self.level.update(error)
        alarms: list[Alarm] = []
        if self.n <= self.warmup:  # detectors start once the young model's errors have settled
            return alarms
        for name, detector in self.detectors.items():
            detector.update(error if name == "adwin" else z)
            if detector.drift_detected and self.n - self.last_alarm[name] > self.cooldown:
                self.last_alarm[name] = self.n
                alarms.append(self._alarm(name, time))
        return alarms

    def _alarm(self, name: str, time: float) -> Alarm:
        recent = list(self.recent)
        before, after = recent[:-100] or recent, recent[-100:]
        return Alarm(name, self.n, time, sum(before) / len(before), sum(after) / len(after))
