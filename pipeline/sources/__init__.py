"""Readers that turn real data (and a synthetic cluster) into event streams in stream order."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from pipeline.sources.base import SourceError, SourceStats
from pipeline.sources.jsonl import JsonlSource
from pipeline.sources.slurm import SacctSource
from pipeline.sources.swf import SwfSource
from pipeline.sources.synthetic import SyntheticCluster
from pipeline.sources.timeline import Event
from pipeline.sources.tokio import TokioSource

KINDS = ("swf", "tokio", "jsonl", "sacct", "synthetic")
DEFAULT_TARGET = {"swf": "runtime_s", "tokio": "io_throughput_mibps", "jsonl": "runtime_s", "sacct": "runtime_s",
                  "synthetic": "runtime_s"}


class Source(Iterable[Event], Protocol):
    kind: str
    stats: SourceStats


def guess_kind(path: str) -> str:
    """The source kind from a file name: ``.swf[.gz]``, ``.csv[.gz]``, ``.jsonl[.gz]``, ``.sacct[.gz]``."""
    name = Path(path).name.lower().removesuffix(".gz")
    for suffix, kind in ((".swf", "swf"), (".csv", "tokio"), (".jsonl", "jsonl"), (".json", "jsonl"),
                         (".sacct", "sacct")):
        if name.endswith(suffix):
            return kind
    if path == "synthetic":
        return "synthetic"
    raise ValueError(f"{path}: cannot tell the kind from the name; pass --kind ({', '.join(KINDS)})")


def open_source(path: str, kind: str | None = None, *, lenient: bool = False, seed: int = 0,
                n_jobs: int = 100_000, system: str | None = None) -> Source:
    """A source by kind (guessed from ``path`` when not given). ``synthetic`` ignores ``path``.

    ``system`` names the system where the file does not (default: the file name for SWF and TOKIO, each row's
    Cluster for sacct).
    """
    kind = kind or guess_kind(path)
    if kind == "synthetic":
        return SyntheticCluster(n_jobs=n_jobs, seed=seed)
    if kind not in KINDS:
        raise ValueError(f"unknown source kind {kind!r} (known: {', '.join(KINDS)})")
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if kind == "swf":
        return SwfSource(path, system, lenient=lenient)
    if kind == "tokio":
        return TokioSource(path, system, lenient=lenient)
    if kind == "sacct":
        return SacctSource(path, system, lenient=lenient)
    return JsonlSource(path, lenient=lenient)


__all__ = ["DEFAULT_TARGET", "KINDS", "Source", "SourceError", "SourceStats", "guess_kind", "open_source"]
