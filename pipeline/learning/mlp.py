"""A small multilayer perceptron trained online: the research's kind of base learner.

The continual-learning result this project builds on fine-tunes a neural model on new data and
reports how much experience replay keeps it from forgetting. ``mlp`` is that naive fine-tuning:
one Adam step (Kingma & Ba, ICLR 2015) per completed job; ``mlp-replay`` takes each step on the
new job plus ``k`` jobs drawn from a reservoir over the whole history. Inputs are the linear
models' (standardized numbers, one-hot keys, health), hashed into a fixed-width vector so the
network's size never grows; the loss is the absolute error of the standardized log10 target.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
from river import preprocessing, stats

from pipeline.learning.baselines import Naive
from pipeline.learning.regressors import Sample
from pipeline.learning.replay import ReservoirBuffer
from pipeline.learning.strategy import StrategyContext


class OnlineMLP:
    """Two ReLU hidden layers, Adam, L1 loss, on hashed sparse inputs.

    Examples
    --------
    >>> mlp = OnlineMLP(seed=0)
    >>> a, b = Sample({}, {"app=a": 1.0}, 3.0), Sample({}, {"app=b": 1.0}, 1.0)
    >>> for _ in range(500):
    ...     mlp.learn_batch([a, b], new=2)
    >>> round(mlp.predict(a)), round(mlp.predict(b))
    (3, 1)
    """

    def __init__(self, width: int = 512, hidden: int = 64, lr: float = 1e-3, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.width = width
        self.params = [
            rng.normal(0, math.sqrt(2 / width), (width, hidden)), np.zeros(hidden),
            rng.normal(0, math.sqrt(2 / hidden), (hidden, hidden)), np.zeros(hidden),
            rng.normal(0, math.sqrt(1 / hidden), (hidden, 1)), np.zeros(1),
        ]
        self.moments = [(np.zeros_like(p), np.zeros_like(p)) for p in self.params]
        self.lr, self.steps = lr, 0
        self.scaler = preprocessing.StandardScaler()
        self.target_mean, self.target_var = stats.Mean(), stats.Var()
        self.slots: dict[str, int] = {}

    def _slot(self, key: str) -> int:
        slot = self.slots.get(key)
        if slot is None:
            slot = zlib.crc32(key.encode()) % self.width  # stable across processes, unlike hash()
            if len(self.slots) < 100_000:
                self.slots[key] = slot
        return slot

    def _vector(self, sample: Sample) -> np.ndarray:
        x = np.zeros(self.width)
        for key, value in self.scaler.transform_one(sample.scaled).items():
            x[self._slot(key)] += max(-5.0, min(5.0, value))
        for key, value in sample.fixed.items():
            x[self._slot(key)] += value
        return x

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        w1, b1, w2, b2, w3, b3 = self.params
        h1 = np.maximum(x @ w1 + b1, 0.0)
        h2 = np.maximum(h1 @ w2 + b2, 0.0)
        return h1, h2, (h2 @ w3 + b3)[..., 0]

    def _scale(self) -> tuple[float, float]:
        return self.target_mean.get(), max(self.target_var.get(), 1e-4) ** 0.5

    def predict(self, sample: Sample) -> float:
        """The predicted log10 of the target."""
        mean, std = self._scale()
        return mean + std * float(self._forward(self._vector(sample))[2])

    def learn(self, sample: Sample) -> None:
        """One Adam step on one new sample."""
        self.learn_batch([sample])

    def learn_batch(self, batch: list[Sample], new: int = 1) -> None:
        """One Adam step on ``batch``; its first ``new`` samples are new (they update the scalers)."""
        for sample in batch[:new]:
            self.scaler.learn_one(sample.scaled)
            self.target_mean.update(sample.log_y)
            self.target_var.update(sample.log_y)
        mean, std = self._scale()
        x = np.stack([self._vector(s) for s in batch])
        y = (np.array([s.log_y for s in batch]) - mean) / std
        h1, h2, out = self._forward(x)
        g_out = np.sign(out - y)[:, None] / len(batch)
        w2, w3 = self.params[2], self.params[4]
        g_h2 = (g_out @ w3.T) * (h2 > 0)
        g_h1 = (g_h2 @ w2.T) * (h1 > 0)
        grads = [x.T @ g_h1, g_h1.sum(0), h1.T @ g_h2, g_h2.sum(0), h2.T @ g_out, g_out.sum(0)]
        self.steps += 1
        for param, grad, (m, v) in zip(self.params, grads, self.moments, strict=True):
            m *= 0.9
            m += 0.1 * grad
            v *= 0.999
            v += 0.001 * grad * grad
            m_hat, v_hat = m / (1 - 0.9**self.steps), v / (1 - 0.999**self.steps)
            param -= self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)


class MLPNaive(Naive):
    """Naive fine-tuning of :class:`OnlineMLP`: one step on each completed job."""

    name = "mlp"
    model: OnlineMLP

    def make_model(self, context: StrategyContext) -> OnlineMLP:
        return OnlineMLP(seed=context.seed)


class MLPReplay(MLPNaive):
    """:class:`MLPNaive` whose every step also replays ``k`` jobs from a reservoir over all history."""

    name = "mlp-replay"

    def __init__(self, context: StrategyContext, capacity: int = 5000, k: int = 31):
        super().__init__(context)
        self.buffer: ReservoirBuffer[Sample] = ReservoirBuffer(capacity, seed=context.seed)
        self.k = k

    def learn_sample(self, sample: Sample) -> None:
        self.model.learn_batch([sample, *self.buffer.sample(self.k)], new=1)
        self.buffer.add(sample)

    @property
    def buffer_size(self) -> int:
        return len(self.buffer)
