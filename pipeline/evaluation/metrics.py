"""Error and accuracy measures of DESIGN.md, on positive targets.

- absolute log ratio ``|log10(predicted / observed)|`` (0.301 = off by 2x);
- AA, mean of ``min(p, r) / max(p, r)``, and the underestimation rate (for runtimes: an
  underestimated job gets killed or breaks a backfill reservation);
- tolerance accuracy: the log target cut into equal-frequency bins; right when within one bin;
- from a task matrix ``R[i][j]`` (error on task j's test set after learning task i): whole-sequence
  error, backward transfer and forgetting (Lopez-Paz & Ranzato, "Gradient Episodic Memory for
  Continual Learning", NeurIPS 2017, on an error scale: positive BWT means forgetting).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Values = Sequence[float] | np.ndarray  # outcomes or predictions, as a list or an array


def abs_log10_ratio(predicted: Values, observed: Values) -> np.ndarray:
    """``|log10(predicted / observed)|`` elementwise."""
    errors: np.ndarray = np.abs(np.log10(np.asarray(predicted, float) / np.asarray(observed, float)))
    return errors


def prequential_summary(predicted: Sequence[float], observed: Sequence[float]) -> dict[str, float | int | None]:
    """n, mean and median absolute log10 ratio, AA and underestimation rate.

    >>> s = prequential_summary([10, 100, 50], [10, 10, 100])
    >>> s["n"], round(s["mean_abs_log10"], 4), s["median_abs_log10"], round(s["aa"], 4)
    (3, 0.4337, 0.30103, 0.5333)
    >>> round(s["underestimation_rate"], 4)
    0.3333
    """
    p, o = np.asarray(predicted, float), np.asarray(observed, float)
    if not len(p):
        return {"n": 0, "mean_abs_log10": None, "median_abs_log10": None, "aa": None,
                "underestimation_rate": None}
    errors = abs_log10_ratio(p, o)
    return {
        "n": len(p),
        "mean_abs_log10": float(errors.mean()),
        "median_abs_log10": float(np.round(np.median(errors), 6)),
        "aa": float((np.minimum(p, o) / np.maximum(p, o)).mean()),
        "underestimation_rate": float((p < o).mean()),
    }


def interval_summary(low: Sequence[float], high: Sequence[float], observed: Sequence[float]
                     ) -> dict[str, float | None]:
    """Coverage (share of outcomes within ``[low, high]``) and mean width (``log10(high / low)``).

    >>> s = interval_summary([1, 10, 10], [10, 100, 1000], [5, 5, 100])
    >>> round(s["coverage"], 3), round(s["width_log10"], 3)
    (0.667, 1.333)
    """
    lo, hi, o = np.asarray(low, float), np.asarray(high, float), np.asarray(observed, float)
    if not len(o):
        return {"coverage": None, "width_log10": None}
    return {"coverage": float(((lo <= o) & (o <= hi)).mean()), "width_log10": float(np.log10(hi / lo).mean())}


def bin_edges(observed: Sequence[float], bins: int = 10) -> np.ndarray:
    """Inner edges of ``bins`` equal-frequency bins of ``log10(observed)``."""
    edges: np.ndarray = np.quantile(np.log10(np.asarray(observed, float)), np.linspace(0, 1, bins + 1)[1:-1])
    return edges


def tolerance_accuracy(predicted: Values, observed: Values, edges: np.ndarray, tolerance: int = 1
                       ) -> float | None:
    """Share of predictions whose bin is within ``tolerance`` bins of the truth's.

    >>> edges = np.array([1.0, 2.0, 3.0])            # bins: <10, 10-100, 100-1000, >=1000
    >>> tolerance_accuracy([5, 5, 5000], [50, 500, 20], edges)
    0.3333333333333333
    """
    if not len(predicted):
        return None
    p = np.searchsorted(edges, np.log10(np.asarray(predicted, float)), side="right")
    o = np.searchsorted(edges, np.log10(np.asarray(observed, float)), side="right")
    return float((np.abs(p - o) <= tolerance).mean())


def whole_sequence(matrix: Sequence[Sequence[float | None]]) -> float | None:
    """Mean over tasks j of ``R[n][j]``: how good the final model is on everything it saw."""
    last = [v for v in matrix[-1] if v is not None]
    return float(np.mean(last)) if last else None


def backward_transfer(matrix: Sequence[Sequence[float | None]]) -> float | None:
    """Mean over j < n of ``R[n][j] - R[j][j]``; positive = the error grew = forgetting.

    >>> backward_transfer([[0.1, 0.5], [0.3, 0.2]])
    0.19999999999999998
    """
    n = len(matrix)
    pairs = ((matrix[-1][j], matrix[j][j]) for j in range(n - 1))
    deltas = [final - fresh for final, fresh in pairs if final is not None and fresh is not None]
    return float(np.mean(deltas)) if deltas else None


def forgetting(matrix: Sequence[Sequence[float | None]]) -> list[float | None]:
    """Per task j: ``R[n][j] - min_i R[i][j]``, how far the final model fell from its best on j."""
    columns = list(zip(*matrix, strict=True))
    return [None if col[-1] is None else float(col[-1] - min(v for v in col if v is not None))
            for col in columns]
