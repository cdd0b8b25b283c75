import random

import pytest
from river import linear_model, optim, preprocessing

from pipeline.learning.regressors import LogLinearRegressor, Sample


def _rivers_composition(lr: float):
    scaler = preprocessing.StandardScaler()
    model = preprocessing.TargetStandardScaler(linear_model.LinearRegression(
        optimizer=optim.SGD(lr), loss=optim.losses.Absolute(), intercept_lr=lr, clip_gradient=10.0))
    return scaler, model


def _stream(n: int, seed: int = 0) -> list[Sample]:
    """Numbers on different scales, one-hot keys that come and go, a constant input (zero variance)."""
    rng = random.Random(seed)
    samples = []
    for i in range(n):
        scaled = {"log_walltime": rng.gauss(3.5, 0.8), "log_procs": rng.choice([0.0, 3.0, 6.0]), "one": 1.0}
        if i % 3:
            scaled["h_last"] = rng.gauss(0.0, 0.3)
        fixed = {f"user=u{rng.randrange(20)}": 1.0, f"app=a{rng.randrange(50)}": 1.0}
        samples.append(Sample(scaled, fixed, 2.0 + 0.5 * scaled["log_procs"] + rng.gauss(0.0, 0.2)))
    return samples


@pytest.mark.parametrize("lr", [0.01, 0.002])
def test_predictions_equal_rivers_scaled_sgd_composition_with_replay(lr):
    ours, (scaler, theirs) = LogLinearRegressor(lr), _rivers_composition(lr)
    stream, rng = _stream(3000), random.Random(1)
    for i, sample in enumerate(stream):
        x = scaler.transform_one(sample.scaled) | sample.fixed
        assert ours.predict(sample) == pytest.approx(theirs.predict_one(x), rel=1e-9, abs=1e-12)
        scaler.learn_one(sample.scaled)
        theirs.learn_one(scaler.transform_one(sample.scaled) | sample.fixed, sample.log_y)
        ours.learn(sample)
        old = stream[rng.randrange(i + 1)]  # a replayed sample: the target scale learns it, the inputs' do not
        theirs.learn_one(scaler.transform_one(old.scaled) | old.fixed, old.log_y)
        ours.learn(old, fit_scaler=False)


def test_an_input_never_seen_while_learning_counts_as_its_mean():
    model = LogLinearRegressor()
    for sample in _stream(200):
        model.learn(sample)
    seen = Sample({"log_walltime": 3.5}, {}, 0.0)
    assert model.predict(Sample({**seen.scaled, "new": 7.0}, {}, 0.0)) == model.predict(seen)
