"""Plots of a comparison: rolling error over time, and the task matrix of each strategy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers and CI

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np

from pipeline.evaluation.metrics import abs_log10_ratio
from pipeline.evaluation.protocol import StrategyRun, Workload


def _dates(seconds: Any) -> np.ndarray:
    """Epoch seconds as datetimes, for a date axis."""
    return np.array([dt.datetime.fromtimestamp(float(s), dt.UTC) for s in seconds])


def _date(seconds: float) -> float:
    """Epoch seconds as matplotlib's date number, where a single x value is wanted."""
    return float(mdates.date2num(dt.datetime.fromtimestamp(seconds, dt.UTC)))


def plot_rolling_error(runs: dict[str, StrategyRun], workload: Workload, path: str | Path,
                       window: int | None = None) -> Path:
    """Rolling mean abs log10 error per strategy over time; task ends dashed, changes and alarms marked."""
    fig, ax = plt.subplots(figsize=(11, 5))
    for name, run in runs.items():
        errors = abs_log10_ratio(np.array(run.predicted), np.array(run.observed))
        w = window or max(20, len(errors) // 100)
        if len(errors) < w:
            continue
        rolling = np.convolve(errors, np.ones(w) / w, mode="valid")
        (line,) = ax.plot(_dates(run.completion_times[w - 1:]), rolling, label=name, linewidth=1)
        alarms = [e["time"] for e in run.drift_events]
        if alarms:
            ax.plot(_dates(alarms), np.interp(alarms, run.completion_times[w - 1:], rolling), "v",
                    color=line.get_color(), markersize=5)
    for task in workload.tasks[:-1]:
        ax.axvline(_date(task.end), color="black", linestyle="--", linewidth=0.8)
    for change in workload.change_points:
        ax.axvline(_date(change), color="tab:red", alpha=0.4, linewidth=0.8)
    ax.set_ylabel("rolling mean |log10(predicted / observed)|")
    ax.set_title(f"{workload.target}: rolling error (dashed: task ends; red: announced changes; v: drift alarms)")
    ax.legend(loc="upper right", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_task_matrices(report: dict[str, Any], path: str | Path) -> Path:
    """Heat maps of ``R[i][j]`` (error on task j after learning task i) per strategy."""
    names = list(report["strategies"])
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.4), squeeze=False)
    matrices = [np.array(report["strategies"][n]["R"], dtype=float) for n in names]
    top = np.nanmax([np.nanmax(m) for m in matrices])
    for ax, name, matrix in zip(axes[0], names, matrices, strict=True):
        ax.imshow(matrix, vmin=0, vmax=top, cmap="Blues")
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if value > 0.6 * top else "black")
        ax.set_title(f"{name}\nwhole-seq {report['strategies'][name]['whole_sequence_error'] or 0:.3f}", fontsize=9)
        ax.set_xlabel("test task j")
        ax.set_ylabel("after task i")
        ticks = range(matrix.shape[0])
        ax.set_xticks(ticks, [f"T{t + 1}" for t in ticks])
        ax.set_yticks(ticks, [f"T{t + 1}" for t in ticks])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_across_seeds(spread: dict[str, Any], seeds: list[int], path: str | Path) -> Path:
    """Whole-sequence error and BWT of each strategy on each seed (one dot per seed, a bar at the mean)."""
    names = list(spread)
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.45 * len(names) + 1.5), sharey=True)
    for ax, number, label in ((axes[0], "whole_sequence_error", "whole-sequence |log10 error|"),
                              (axes[1], "bwt", "BWT (positive: forgetting)")):
        for row, name in enumerate(names):
            stats = spread[name][number]
            values = [v for v in stats["values"] if v is not None]
            ax.plot(values, [row] * len(values), "o", color="tab:blue", alpha=0.6, markersize=5)
            if stats["mean"] is not None:
                ax.plot([stats["mean"]] * 2, [row - 0.3, row + 0.3], color="black", linewidth=1.5)
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(names)), names)
    axes[0].invert_yaxis()
    fig.suptitle(f"across seeds {', '.join(map(str, seeds))} of the held-out split (bar: mean)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
