"""Reports of a comparison: a terminal table and a JSON file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as columns: the first left-aligned, the rest right-aligned, a rule under the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]
    lines.insert(1, "-|-".join("-" * w for w in widths))
    return lines


def format_table(report: dict[str, Any]) -> str:
    """One row per strategy: prequential errors and 80% interval, whole-sequence error and accuracy,
    BWT, speed; then, for strategies that say what each prediction rests on, one row per basis; then
    the errors on jobs of a kind seen for the first time and of kinds back after a long absence."""
    header = ("strategy", "preq median", "preq mean", "AA", "under", "cover", "width", "whole-seq", "BWT",
              "vs naive", "tol acc", "acc vs naive", "events/s")
    rows = [header]
    for name, s in report["strategies"].items():
        p, tol = s["prequential"], s["tolerance_accuracy"]
        rows.append((
            name, _fmt(p["median_abs_log10"]), _fmt(p["mean_abs_log10"]), _fmt(p["aa"]),
            _fmt(p["underestimation_rate"]), _fmt(p["interval_coverage"]), _fmt(p["interval_width_log10"], 2),
            _fmt(s["whole_sequence_error"]), _fmt(s["bwt"], 4),
            _fmt(s["improvement_vs_naive"], 2) + "x" if s["improvement_vs_naive"] else "-",
            _fmt(tol["whole_sequence"]), _fmt(tol["ratio_vs_naive"], 2) + "x" if tol["ratio_vs_naive"] else "-",
            f"{s['events_per_second']:,.0f}" if s["events_per_second"] else "-",
        ))
    tasks = ", ".join(f"T{i + 1}: {t['n_stream']}+{t['n_test']}" for i, t in enumerate(report["tasks"]))
    title = f"{report['source']} | target {report['target']} | seed {report['seed']} | jobs stream+test {tasks}"
    lines = [title, *aligned(rows)]
    basis_rows = [("strategy / basis", "share", "preq median", "preq mean", "cover", "width")]
    for name, s in report["strategies"].items():
        for basis, b in s["by_basis"].items():
            basis_rows.append((f"{name} / {basis}", _fmt(b["share"]), _fmt(b["median_abs_log10"]),
                               _fmt(b["mean_abs_log10"]), _fmt(b["interval_coverage"]),
                               _fmt(b["interval_width_log10"], 2)))
    if len(basis_rows) > 1:
        lines += ["", "by what each prediction rests on (prequential):", *aligned(basis_rows)]
    absence_rows = [("strategy / job's kind", "share", "preq median", "preq mean")]
    for name, s in report["strategies"].items():
        for group, g in s["by_absence"].items():
            absence_rows.append((f"{name} / {group}", _fmt(g["share"]), _fmt(g["median_abs_log10"]),
                                 _fmt(g["mean_abs_log10"])))
    if len(absence_rows) > 1:
        lines += ["", "by how long the job's kind had been away (prequential):", *aligned(absence_rows)]
    return "\n".join(lines)


def write_json(report: dict[str, Any], path: str | Path) -> None:
    """Write the report as indented JSON (the layout other tools read)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(report, indent=2) + "\n")
