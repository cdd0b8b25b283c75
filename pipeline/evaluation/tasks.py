"""Tasks: the stream cut at known change dates or into equal time slices, and held-out test sets."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Task:
    """Jobs submitted in ``[start, end)`` (the last task also includes ``end``)."""

    start: float
    end: float


def parse_tasks(spec: str) -> int | list[float]:
    """``"4"`` -> 4 equal slices; ``"2017-03-24,2017-08-10"`` -> those UTC dates as cut points."""
    spec = spec.strip()
    if spec.isdigit():
        if int(spec) < 1:
            raise ValueError("--tasks: the number of tasks must be at least 1")
        return int(spec)
    cuts = []
    for part in spec.split(","):
        try:
            day = dt.datetime.strptime(part.strip(), "%Y-%m-%d").replace(tzinfo=dt.UTC)
        except ValueError:
            raise ValueError(f"--tasks: {part.strip()!r} is neither a count nor a YYYY-MM-DD date") from None
        cuts.append(day.timestamp())
    if cuts != sorted(cuts):
        raise ValueError("--tasks: dates must be in increasing order")
    return cuts


def make_tasks(submit_times: Sequence[float], spec: int | list[float]) -> list[Task]:
    """Tasks covering ``[min, max]`` of the submit times."""
    first, last = float(min(submit_times)), float(max(submit_times))
    if isinstance(spec, int):
        edges = list(np.linspace(first, last, spec + 1))
    else:
        inside = [c for c in spec if first < c < last]
        if len(inside) != len(spec):
            raise ValueError("--tasks: every date must fall inside the data's time range")
        edges = [first, *inside, last]
    return [Task(a, b) for a, b in itertools.pairwise(edges)]


def task_of(time: float, tasks: Sequence[Task]) -> int:
    """Index of the task a submit time falls in."""
    for index, task in enumerate(tasks):
        if time < task.end:
            return index
    return len(tasks) - 1


def test_split(job_tasks: Sequence[int], n_tasks: int, seed: int, share: float = 0.2) -> np.ndarray:
    """A seeded ``share`` of each task's jobs, as a boolean mask over jobs.

    >>> mask = test_split([0] * 10 + [1] * 5, 2, seed=0)
    >>> int(mask[:10].sum()), int(mask[10:].sum())
    (2, 1)
    """
    rng = np.random.default_rng(seed)
    tasks = np.asarray(job_tasks)
    mask = np.zeros(len(tasks), dtype=bool)
    for task in range(n_tasks):
        members = np.flatnonzero(tasks == task)
        chosen = rng.choice(members, size=round(share * len(members)), replace=False)
        mask[chosen] = True
    return mask
