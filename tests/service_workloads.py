"""Event streams and expected outputs shared by the service tests."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from pipeline.processor import Processor
from pipeline.sources import open_source
from pipeline.sources.timeline import order_key


def trace_events(path: Path, limit: int | None = None) -> list[dict]:
    return list(itertools.islice(open_source(path), limit))


def several_systems(events: list[dict], names: list[str]) -> list[dict]:
    """The same trace run by several systems at once, in one time-ordered stream (for rebalancing)."""
    copies = [{**e, "system": name} for name in names for e in events]
    return sorted(copies, key=order_key)  # stable: each system keeps its own order


def replay_in_process(events: list[dict], strategy: str = "default") -> list[dict]:
    processor = Processor(strategy)
    return [r for e in events for r in processor.handle(e)]


def by_job(records: list[dict]) -> dict[tuple, dict]:
    """Prediction records keyed by (system, job, stage, target); a later duplicate replaces an earlier one."""
    return {(r["system"], r["job_id"], r["stage"], r["target"]): r for r in records if r["schema"] == "prediction/1"}


def complete(expected: dict[tuple, dict]):
    """A ``read_topic`` stop condition: every expected prediction key has arrived."""
    return lambda records: len(by_job(records)) >= len(expected)


def wait_until(condition, timeout: float = 120, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} not reached within {timeout} s")


def explain(got: dict[tuple, dict], expected: dict[tuple, dict], *workers) -> str:
    """A short account of how two prediction sets differ, with the workers' event counts."""
    missing = sorted(set(expected) - set(got))
    differing = sorted(k for k in expected if k in got and got[k] != expected[k])
    counts = [{k: v for k, v in w.metrics().items() if k.startswith(("perfstream_events_total",
                                                                     "perfstream_checkpoints_total"))}
              for w in workers]
    return f"missing {len(missing)} {missing[:5]}; differing {len(differing)} {differing[:5]}; workers {counts}"
