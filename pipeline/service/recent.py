"""A bounded set for what a long-running command has seen: the jobs a Slurm bridge published, the
records it dead-lettered, the job arrays the annotator wrote to."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Container, Hashable, Iterable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)


class Recent(Container[Key], Generic[Key]):
    """A set that keeps the ``most`` keys added last: the oldest leave first.

    >>> recent: Recent[str] = Recent(2)
    >>> recent.add(["a", "b", "c"])
    >>> "a" in recent, "c" in recent
    (False, True)
    """

    def __init__(self, most: int):
        self.most = most
        self._keys: OrderedDict[Key, None] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def add(self, keys: Iterable[Key]) -> None:
        for key in keys:
            self._keys[key] = None
        while len(self._keys) > self.most:
            self._keys.popitem(last=False)

    def discard(self, key: Key) -> None:
        self._keys.pop(key, None)
