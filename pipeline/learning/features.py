"""Turn a :class:`~pipeline.learning.job.Job` into model inputs.

Numbers that span orders of magnitude (walltimes, process counts) enter as logs; strings enter as
one-hot keys (``"queue=normal"``), and pairs of low-cardinality strings as crossed keys
(``"app=ior&file_system=cscratch"``) so that a linear model can express the interactions that
dominate I/O throughput (the target file system alone moves it by about 2x on Cori).
"""

from __future__ import annotations

import math
from itertools import combinations

from pipeline.learning.job import Job

# Identities have hundreds of values: one-hot them, but do not cross them with everything.
_IDENTITIES = ("user", "group")


def _signed_log(value: float) -> float:
    return math.copysign(math.log10(1.0 + abs(value)), value)


def numeric_features(job: Job) -> dict[str, float]:
    """Log-scaled request sizes and other numeric features of the request (to be standardized)."""
    x: dict[str, float] = {}
    if job.requested_walltime_s:
        x["log_requested_walltime"] = math.log10(job.requested_walltime_s)
    if job.num_procs:
        x["log_procs"] = math.log2(job.num_procs)
    if job.num_nodes:
        x["log_nodes"] = math.log2(job.num_nodes)
    for key, value in job.features.items():
        if not isinstance(value, str):
            x[f"log_{key}"] = _signed_log(float(value))
    return x


def health_features(job: Job) -> dict[str, float]:
    """The health snapshot on fixed, bounded scales: shares in [0, 1], counts as log10(1 + n).

    Not standardized on purpose: a health metric that barely moved while a model learned (Cori's
    file system sat at 37% full for weeks, then filled to 70%) would become a 10-sigma input
    later, and a linear model extrapolating on it predicted I/O 1000x too low.
    """
    return {key: value / 100.0 if key.endswith("_pct") else _signed_log(value) for key, value in job.health.items()}


def categorical_features(job: Job) -> dict[str, str]:
    """The job's string attributes, by name."""
    cats = {"user": job.user, "group": job.group, "queue": job.queue, "app": job.app}
    cats.update({k: v for k, v in job.features.items() if isinstance(v, str)})
    return {k: v for k, v in cats.items() if v is not None}


def one_hot(job: Job) -> dict[str, float]:
    """One-hot keys for every categorical, plus crosses of the non-identity ones.

    >>> sorted(one_hot(Job("1", "s", 0.0, user="u1", app="ior", requested_walltime_s=60,
    ...                    features={"fs": "lustre"})))
    ['app=ior', 'app=ior&fs=lustre', 'fs=lustre', 'user=u1']
    """
    cats = categorical_features(job)
    x = {f"{k}={v}": 1.0 for k, v in cats.items()}
    crossable = sorted(f"{k}={v}" for k, v in cats.items() if k not in _IDENTITIES)
    for a, b in combinations(crossable, 2):
        x[f"{a}&{b}"] = 1.0
    if job.requested_walltime_s is None:
        x["no_requested_walltime"] = 1.0
    return x
