"""Bounded replay memories: a uniform reservoir over the whole history, and one per regime.

Reservoir sampling keeps every item seen with equal probability ``capacity / n`` in a fixed amount
of memory (Vitter, "Random Sampling with a Reservoir", ACM TOMS 11(1), 1985, Algorithm R).
"""

from __future__ import annotations

import random
from collections.abc import Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class ReservoirBuffer(Generic[T]):
    """A uniform sample of everything added so far, at most ``capacity`` items.

    Examples
    --------
    >>> buffer = ReservoirBuffer(capacity=100, seed=0)
    >>> for i in range(10_000):
    ...     buffer.add(i)
    >>> len(buffer), buffer.seen
    (100, 10000)
    >>> len(buffer.sample(5))
    5
    """

    def __init__(self, capacity: int, seed: int = 0):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.items: list[T] = []
        self.seen = 0
        self.rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, item: T) -> None:
        """Offer one item; it is kept with probability ``capacity / seen``."""
        self.seen += 1
        if len(self.items) < self.capacity:
            self.items.append(item)
            return
        slot = self.rng.randrange(self.seen)
        if slot < self.capacity:
            self.items[slot] = item

    def sample(self, k: int) -> list[T]:
        """Up to ``k`` items drawn uniformly with replacement."""
        return self.rng.choices(self.items, k=k) if self.items else []

    def shrink(self, capacity: int) -> None:
        """Lower the capacity, dropping a uniform random share of the items."""
        self.capacity = max(1, capacity)
        while len(self.items) > self.capacity:
            self.items.pop(self.rng.randrange(len(self.items)))


class StratifiedBuffer(Generic[T]):
    """One reservoir per regime sharing one capacity, so an old regime keeps its share.

    A uniform reservoir forgets a short old regime in proportion to its length; here each regime
    holds ``capacity / regimes`` items however long the others ran.

    Examples
    --------
    >>> buffer = StratifiedBuffer(capacity=100, seed=0)
    >>> for i in range(5000):
    ...     buffer.add("old" if i < 100 else "new", i)
    >>> {regime: len(r) for regime, r in buffer.strata.items()}
    {'old': 50, 'new': 50}
    """

    def __init__(self, capacity: int, seed: int = 0):
        self.capacity, self.seed = capacity, seed
        self.strata: dict[Hashable, ReservoirBuffer[T]] = {}

    def __len__(self) -> int:
        return sum(len(r) for r in self.strata.values())

    def add(self, regime: Hashable, item: T) -> None:
        """Offer an item of ``regime``; a new regime takes its share from the others."""
        if regime not in self.strata:
            share = max(1, self.capacity // (len(self.strata) + 1))
            for reservoir in self.strata.values():
                reservoir.shrink(share)
            self.strata[regime] = ReservoirBuffer(share, seed=hash((self.seed, len(self.strata))))
        self.strata[regime].add(item)

    def sample(self, k: int, regime: Hashable | None = None) -> list[T]:
        """``k`` items from one regime, or from all regimes in equal measure."""
        if regime is not None:
            return self.strata[regime].sample(k) if regime in self.strata else []
        filled = [r for r in self.strata.values() if len(r)]
        if not filled:
            return []
        rng = filled[0].rng
        return [rng.choice(filled).sample(1)[0] for _ in range(k)]

    def drop(self, regime: Hashable) -> None:
        """Forget one regime's items (its expert was evicted)."""
        self.strata.pop(regime, None)
