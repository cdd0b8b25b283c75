"""``cumulative``: an offline model refit on everything seen so far (evaluation only).

The upper reference for a continual learner: it never forgets because it keeps every sample, which
is exactly what a streaming service cannot afford (its memory grows with the stream). It refits
scikit-learn's histogram gradient boosting on a geometric schedule, so the total refit cost stays
near-linear in the stream length.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from pipeline.learning.baselines import RunningMedian
from pipeline.learning.features import categorical_features, health_features, numeric_features
from pipeline.learning.job import Job
from pipeline.learning.strategy import Strategy, StrategyContext


class Cumulative(Strategy):
    """Gradient-boosted trees on ``log10(y)``, refit on all data after every ``growth`` share of new data.

    Categoricals enter as integer codes in order of first appearance (trees split on them well
    enough for a reference, and codes need no cap on cardinality).
    """

    name = "cumulative"

    def __init__(self, context: StrategyContext, growth: float = 0.2, min_new: int = 256,
                 max_new: int = 20_000):
        super().__init__(context)
        self.growth, self.min_new, self.max_new = growth, min_new, max_new
        self.columns: dict[str, int] = {}
        self.codes: dict[str, dict[str, int]] = {}
        self.rows: list[dict[int, float]] = []
        self.targets: list[float] = []
        self.fitted_at = 0
        self.model: HistGradientBoostingRegressor | None = None
        self.cache: dict[tuple[tuple[int, float], ...], float] = {}
        self.fallback = RunningMedian(context)
        self.seed = context.seed

    def _row(self, job: Job, grow: bool) -> dict[int, float]:
        values: dict[str, float] = {**numeric_features(job), **health_features(job)}
        for key, value in categorical_features(job).items():
            codes = self.codes.setdefault(key, {}) if grow else self.codes.get(key, {})
            if grow:
                codes.setdefault(value, len(codes))
            values[key] = codes.get(value, math.nan)
        if grow:
            for key in values:
                self.columns.setdefault(key, len(self.columns))
        return {self.columns[k]: v for k, v in values.items() if k in self.columns}

    def _matrix(self, rows: list[dict[int, float]]) -> np.ndarray:
        matrix = np.full((len(rows), len(self.columns)), np.nan)
        for i, row in enumerate(rows):
            for j, value in row.items():
                matrix[i, j] = value
        return matrix

    def predict_one(self, job: Job) -> float:
        if self.model is None:
            return self.fallback.predict_one(job)
        row = self._row(job, grow=False)
        # One sklearn call costs ~0.7 ms whatever its size; repeated requests are common.
        key = tuple(sorted(row.items()))
        if key not in self.cache:
            self.cache[key] = self._predict_rows(self.model, [row])[0]
        return self.cache[key]

    def predict_many(self, jobs: Sequence[Job]) -> list[float]:
        if self.model is None:
            return [self.fallback.predict_one(job) for job in jobs]
        return self._predict_rows(self.model, [self._row(job, grow=False) for job in jobs])

    def _predict_rows(self, model: HistGradientBoostingRegressor, rows: list[dict[int, float]]) -> list[float]:
        x = self._matrix(rows)[:, : model.n_features_in_]
        return list(10.0 ** model.predict(x))

    def learn_one(self, job: Job, y: float) -> None:
        self.rows.append(self._row(job, grow=True))
        self.targets.append(math.log10(y))
        self.fallback.learn_one(job, y)
        new = len(self.rows) - self.fitted_at
        if new >= min(self.max_new, max(self.min_new, self.growth * self.fitted_at)):
            self._refit()

    def _refit(self) -> None:
        self.model = HistGradientBoostingRegressor(max_iter=100, random_state=self.seed)
        self.model.fit(self._matrix(self.rows), np.asarray(self.targets))
        self.fitted_at = len(self.rows)
        self.cache = {}
        self.version += 1
