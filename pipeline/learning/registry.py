"""Strategies by name: the one place that knows which classes exist."""

from __future__ import annotations

from collections.abc import Callable

from pipeline.learning.baselines import Frozen, Last2, Naive, RunningMedian
from pipeline.learning.consensus import Consensus
from pipeline.learning.continual import DriftReset, HistoryLinear, Replay
from pipeline.learning.experts import Experts
from pipeline.learning.mlp import MLPNaive, MLPReplay
from pipeline.learning.selector import Selector
from pipeline.learning.strategy import Strategy, StrategyContext


def _cumulative(context: StrategyContext) -> Strategy:
    # Imported on demand: scikit-learn is heavy and only evaluation needs this reference.
    from pipeline.learning.cumulative import Cumulative

    return Cumulative(context)


STRATEGIES: dict[str, Callable[[StrategyContext], Strategy]] = {
    "naive": Naive,
    "frozen": Frozen,
    "median": RunningMedian,
    "last2": Last2,
    "cumulative": _cumulative,
    "history": HistoryLinear,
    "replay": Replay,
    "drift-reset": DriftReset,
    "select": Selector,
    "consensus": Consensus,
    "experts": Experts,
    "mlp": MLPNaive,
    "mlp-replay": MLPReplay,
}

# Strategies whose memory grows with the stream: for evaluation, never for the service.
EVALUATION_ONLY = frozenset({"cumulative"})

# The strategy the service runs unless told otherwise; chosen by measurement: the lowest geometric
# mean, over the five development data sets, of its prequential median, prequential mean and
# whole-sequence errors relative to naive's (README, "Choosing the default").
DEFAULT = "consensus"


class UnknownStrategy(ValueError):
    """A strategy name that is not registered."""

    def __str__(self) -> str:
        return f"unknown strategy {self.args[0]!r} (known: {', '.join(sorted(STRATEGIES))}, default)"


def resolve(name: str) -> str:
    """The registered name behind ``name`` (``default`` -> the current default)."""
    name = DEFAULT if name == "default" else name
    if name not in STRATEGIES:
        raise UnknownStrategy(name)
    return name


def make_strategy(name: str, context: StrategyContext) -> Strategy:
    """A new strategy by name, e.g. ``make_strategy("last2", StrategyContext("runtime_s"))``."""
    return STRATEGIES[resolve(name)](context)
