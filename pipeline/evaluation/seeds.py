"""One comparison repeated over several seeds: how far each number moves with the held-out split.

The seed draws the 20% of each task held out for the task matrix (and the jobs of a synthetic
cluster). On Cori the continual strategies' whole-sequence error moved by up to 0.024 between
seeds 0, 1 and 2 while naive's stayed at 0.208 (docs/results.md, "Cori over three seeds"), so a claim
about one split needs the others beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pipeline.evaluation.report import aligned

# what moves with the split, as read from one strategy's summary in a report
_NUMBERS: dict[str, Callable[[dict[str, Any]], float | None]] = {
    "whole_sequence_error": lambda s: s["whole_sequence_error"],
    "bwt": lambda s: s["bwt"],
    "improvement_vs_naive": lambda s: s["improvement_vs_naive"],
    "median_abs_log10": lambda s: s["prequential"]["median_abs_log10"],
    "mean_abs_log10": lambda s: s["prequential"]["mean_abs_log10"],
    "tolerance_accuracy": lambda s: s["tolerance_accuracy"]["whole_sequence"],
    "tolerance_accuracy_ratio_vs_naive": lambda s: s["tolerance_accuracy"]["ratio_vs_naive"],
}


def across_seeds(reports: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per strategy and number, its value on each seed's report and their mean, min and max
    (``None`` where a report has none: a strategy without naive's ratio, an empty task).

    Examples
    --------
    >>> def report(whole):
    ...     summary = {"whole_sequence_error": whole, "bwt": 0.01, "improvement_vs_naive": 0.2 / whole,
    ...                "prequential": {"median_abs_log10": 0.1, "mean_abs_log10": 0.2},
    ...                "tolerance_accuracy": {"whole_sequence": 0.7, "ratio_vs_naive": None}}
    ...     return {"strategies": {"replay": summary}}
    >>> spread = across_seeds([report(0.18), report(0.20)])["replay"]
    >>> round(spread["whole_sequence_error"]["mean"], 3), spread["whole_sequence_error"]["max"]
    (0.19, 0.2)
    >>> spread["tolerance_accuracy_ratio_vs_naive"]["mean"] is None
    True
    """
    names = list(dict.fromkeys(name for report in reports for name in report["strategies"]))
    spread: dict[str, dict[str, dict[str, Any]]] = {}
    for name in names:
        spread[name] = {}
        for number, read in _NUMBERS.items():
            values = [read(r["strategies"][name]) if name in r["strategies"] else None for r in reports]
            known = [v for v in values if v is not None]
            spread[name][number] = {
                "values": values,
                "mean": sum(known) / len(known) if known else None,
                "min": min(known) if known else None,
                "max": max(known) if known else None,
            }
    return spread


def _spread(stats: dict[str, Any], digits: int) -> str:
    if stats["mean"] is None:
        return "-"
    return f"{stats['mean']:.{digits}f} [{stats['min']:.{digits}f}, {stats['max']:.{digits}f}]"


def format_across_seeds(spread: dict[str, dict[str, dict[str, Any]]], seeds: Sequence[int]) -> str:
    """The spread as a terminal table: mean [min, max] over the seeds."""
    rows = [("strategy", "whole-seq", "BWT", "vs naive", "preq median", "preq mean", "tol acc vs naive")]
    for name, numbers in spread.items():
        rows.append((name, _spread(numbers["whole_sequence_error"], 3), _spread(numbers["bwt"], 4),
                     _spread(numbers["improvement_vs_naive"], 2), _spread(numbers["median_abs_log10"], 3),
                     _spread(numbers["mean_abs_log10"], 3), _spread(numbers["tolerance_accuracy_ratio_vs_naive"], 2)))
    title = f"across seeds {', '.join(map(str, seeds))}: mean [min, max]"
    return "\n".join([title, *aligned(rows)])
