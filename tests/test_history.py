"""History features: built only from completed jobs, most specific first, bounded."""

import math

from pipeline.learning.history import History
from pipeline.learning.job import Job


def job(user="u", app="a", request=3600.0):
    return Job("j", "s", 0.0, user=user, app=app, requested_walltime_s=request)


def test_a_stranger_has_only_flags():
    values, flags = History().features(job())
    assert values == {} and flags == {"h_user_unknown": 1.0, "h_app_unknown": 1.0}


def test_anchor_prefers_the_same_request_then_the_users_last_then_the_applications():
    history = History()
    assert history.anchor(job()) is None
    history.update(job(user="other", app="a"), 1.0)
    assert history.anchor(job(user="u", app="a")) == 1.0  # only the application is known
    history.update(job(request=60.0), 2.0)
    assert history.anchor(job(request=3600.0)) == 2.0  # the user's last
    history.update(job(request=3600.0), 3.0)
    history.update(job(request=60.0), 2.5)
    assert history.anchor(job(request=3600.0)) == 3.0  # same user, same request


def test_reading_features_changes_nothing():
    history = History()
    history.update(job(), 2.0)
    before = (list(history.users), history.features(job()))
    history.features(job(user="x"))
    history.anchor(job(user="y"))
    assert (list(history.users), history.features(job())) == before


def test_ratio_to_request_carries_over_to_new_requests():
    history = History(alpha=1.0)
    history.update(job(request=1000.0), math.log10(100.0))  # ran a tenth of its request
    values, _ = history.features(job(request=5000.0))
    assert values["h_user_ratio_request"] == math.log10(500.0)


def test_memory_is_bounded_in_users_and_requests():
    history = History(max_keys=10, requests_per_user=3)
    for i in range(100):
        history.update(job(user=f"u{i}", app=f"a{i}", request=float(i + 1)), 1.0)
    for i in range(20):
        history.update(job(user="u99", request=float(i + 1)), 1.0)
    assert len(history.users) == 10 and len(history.apps) == 10
    assert len(history.users["u99"].by_request) == 3
