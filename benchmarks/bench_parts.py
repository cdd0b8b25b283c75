"""Where an event's time goes: the parts of the default's work, each timed alone on real events.

The default (``consensus``) learns all of ``--jobs`` SDSC-SP2 jobs first, so its history and models
are in the state of a running worker; then each part runs over the same jobs, ``--repeats`` times,
and the median time per call is reported in microseconds:

- the default's prediction of a job and its learning of one (the whole strategy);
- validating a submission and a completion against topics/ (jsonschema-rs);
- parsing an event into a Job;
- the history lookups and the model inputs a prediction starts from, and a history update;
- one prediction and one learned sample of the linear model, against river's
  ``StandardScaler | TargetStandardScaler(LinearRegression)`` composition it replaced on the same
  samples (ratio in the same process);
- the Processor around a strategy: every event through ``Processor.handle`` with the trivial ``last2``.

    python benchmarks/bench_parts.py --data ../shared/data --jobs 20000 --repeats 5
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm


def _per_call(function: Callable[[Any], Any], items: Sequence[Any], repeats: int) -> float:
    """Median over ``repeats`` passes of the time per call, in microseconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for item in items:
            function(item)
        times.append((time.perf_counter() - started) / len(items) * 1e6)
    return statistics.median(times)


def _rivers_composition(lr: float):
    from river import linear_model, optim, preprocessing

    return preprocessing.StandardScaler() | preprocessing.TargetStandardScaler(linear_model.LinearRegression(
        optimizer=optim.SGD(lr), loss=optim.losses.Absolute(), intercept_lr=lr, clip_gradient=10.0))


def _model_parts(samples: list, repeats: int) -> dict[str, float]:
    """Prediction and learning of the fused linear model and of river's composition, same samples."""
    from pipeline.learning.regressors import LogLinearRegressor

    ours, theirs = LogLinearRegressor(0.002), _rivers_composition(0.002)
    rows = [({**s.scaled, **s.fixed}, s.log_y) for s in samples]
    return {
        "learn_us": _per_call(ours.learn, samples, repeats),
        "river_learn_us": _per_call(lambda row: theirs.learn_one(*row), rows, repeats),
        "predict_us": _per_call(ours.predict, samples, repeats),
        "river_predict_us": _per_call(lambda row: theirs.predict_one(row[0]), rows, repeats),
    }


def measure(data: str, jobs: int, repeats: int) -> dict[str, float]:
    from pipeline.learning.job import Job
    from pipeline.learning.regressors import anchored, make_sample
    from pipeline.processor import Processor
    from pipeline.schemas import validate
    from pipeline.sources.swf import SwfSource

    events = list(itertools.islice(SwfSource(Path(data) / "traces" / "SDSC-SP2-1998-4.2-cln.swf.gz"), 2 * jobs))
    submissions = [e for e in events if e["schema"] == "job-submission/1"]
    completions = [e for e in events if e["schema"] == "job-completion/1"]
    default = Processor("consensus")
    for event in tqdm(events, desc="learning"):
        default.handle(event)
    strategy = next(iter(default.systems.values())).targets["runtime_s"].strategy
    history, submitted = strategy.history, [Job.from_event(e) for e in submissions]
    outcomes = [(Job.from_event(e), e["outcome"]["runtime_s"]) for e in completions]
    pairs = [(job, history.anchor_or(job, 0.0)) for job in submitted]
    samples = [anchored(make_sample(job, history), anchor, 1.0) for job, anchor in pairs]
    parts = {
        "default_predict_us": _per_call(strategy.predict_detail, submitted, repeats),
        "default_learn_us": _per_call(lambda pair: strategy.learn_one(*pair), outcomes, repeats),
        "validate_submission_us": _per_call(validate, submissions, repeats),
        "validate_completion_us": _per_call(validate, completions, repeats),
        "job_from_event_us": _per_call(Job.from_event, submissions, repeats),
        "history_anchor_us": _per_call(history.anchor_source, submitted, repeats),
        "history_features_us": _per_call(history.features, submitted, repeats),
        "plain_inputs_us": _per_call(make_sample, submitted, repeats),
        "history_update_us": _per_call(lambda pair: history.update(*pair), pairs, repeats),
        **_model_parts(samples, repeats),
    }

    def last2_pass(_: None) -> None:
        processor = Processor("last2")
        for event in events:
            processor.handle(event)

    parts["processor_last2_per_event_us"] = _per_call(last2_pass, [None], repeats) / len(events)
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    parts = measure(args.data, args.jobs, args.repeats)
    print(f"SDSC-SP2, {args.jobs} jobs, median of {args.repeats} passes, microseconds per call")
    for name, value in parts.items():
        print(f"{name:32} {value:8.2f}")
    print(f"linear model vs river's composition: learn {parts['river_learn_us'] / parts['learn_us']:.2f}x, "
          f"predict {parts['river_predict_us'] / parts['predict_us']:.2f}x faster")
    if args.json:
        results = {"jobs": args.jobs, "repeats": args.repeats, "parts": parts}
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
