"""History features: built only from completed jobs, most specific first, bounded."""

import math
import pickle

from pipeline.learning.history import ANOTHER_REQUEST, OTHER, OWN_RUNS, SAME_REQUEST, History
from pipeline.learning.job import Job


def job(user="u", app="a", request=3600.0, procs=None):
    return Job("j", "s", 0.0, user=user, app=app, requested_walltime_s=request, num_procs=procs)


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


def placed(user, group):
    return Job("j", "s", 0.0, user=user, app="a", requested_walltime_s=3600.0, features={"node_group": group})


def test_after_a_change_retired_runs_are_shifted_by_how_far_they_were_off_on_the_same_placement():
    history = History(shift_alpha=1.0)
    for user in ("u1", "u2", "u3"):
        history.update(placed(user, "g1"), 3.0)
        history.update(placed(user, "g2"), 3.0)
    history.on_change()
    history.update(placed("u1", "g1"), 2.5)  # g1 got faster: its retired runs are 0.5 too slow
    assert history.signature_median(placed("u2", "g1")) == 2.5
    assert history.signature_median(placed("u2", "g2")) == 3.0  # nothing seen on g2 yet: unshifted


def test_a_signature_that_ran_since_the_change_uses_only_its_new_runs():
    history = History()
    history.update(placed("u1", "g1"), 3.0)
    history.on_change()
    history.update(placed("u1", "g1"), 2.0)
    assert history.signature_median(placed("u1", "g1")) == 2.0


def test_retired_and_current_signatures_together_stay_within_max_keys():
    history = History(max_keys=10)
    for change in range(3):
        for i in range(8):
            history.update(placed(f"u{change}-{i}", "g1"), 1.0)
        history.on_change()
    history.update(placed("new", "g1"), 1.0)
    assert len(history.signatures) + len(history.retired) <= 10


def test_after_a_rollback_runs_from_before_the_patch_are_not_shifted_like_runs_from_under_it():
    history = History(shift_alpha=1.0)
    history.update(placed("before", "g1"), 3.0)  # last ran before the patch
    history.on_change()  # the patch slows every job
    history.update(placed("under1", "g1"), 3.5)
    history.update(placed("under2", "g1"), 3.5)
    history.on_change()  # the rollback
    history.update(placed("under1", "g1"), 3.0)  # runs from under the patch are now 0.5 too slow
    assert history.signature_median(placed("under2", "g1")) == 3.0
    assert history.signature_median(placed("before", "g1")) == 3.0


def on_two_groups():
    """A history with one run of the same job on node groups g1 and g2."""
    history = History()
    history.update(placed("u1", "g1"), 3.0)
    history.update(placed("u1", "g2"), 3.0)
    return history


def kinds_on_the_two_groups(history):
    return [history.anchor_source(placed("u1", group)) for group in ("g1", "g2")]


def test_a_change_of_one_component_retires_only_the_runs_placed_on_it():
    history = on_two_groups()
    history.on_change("g1")
    assert kinds_on_the_two_groups(history) == [(3.0, OTHER), (3.0, OWN_RUNS)]


def test_a_change_of_a_component_no_job_is_placed_on_retires_every_signature():
    history = on_two_groups()
    history.on_change("fs")  # a file system the jobs do not name: it may be under any of them
    assert kinds_on_the_two_groups(history) == [(3.0, OTHER), (3.0, OTHER)]


def test_a_shift_of_one_component_retires_only_the_runs_placed_on_it():
    history = on_two_groups()
    history.on_shift("g2")
    assert kinds_on_the_two_groups(history) == [(3.0, OWN_RUNS), (3.0, OTHER)]


def test_a_shift_of_a_component_no_job_is_placed_on_retires_nothing():
    history = on_two_groups()
    history.on_shift("g9")
    assert kinds_on_the_two_groups(history) == [(3.0, OWN_RUNS), (3.0, OWN_RUNS)]


def test_the_health_status_of_where_a_job_runs_is_part_of_its_signature():
    history = History()
    healthy = Job("j", "s", 0.0, user="u", features={"file_system": "scratch"}, health={"health.scratch.not_ok": 0.0})
    degraded = Job("j", "s", 0.0, user="u", features={"file_system": "scratch"}, health={"health.scratch.not_ok": 1.0})
    history.update(degraded, 1.0)
    history.update(healthy, 3.0)
    assert history.signature_median(degraded) == 1.0 and history.signature_median(healthy) == 3.0


def test_the_health_of_parts_a_job_does_not_use_leaves_its_signature_alone():
    history = History()
    job = Job("j", "s", 0.0, user="u", features={"file_system": "scratch"}, health={"health.other.not_ok": 0.0})
    other_down = Job("j", "s", 0.0, user="u", features={"file_system": "scratch"}, health={"health.other.not_ok": 1.0})
    assert history.signature(job) == history.signature(other_down)


def test_an_anchor_is_the_jobs_own_runs_only_from_its_signature_since_the_last_change():
    history = History()
    history.update(placed("u1", "g1"), 3.0)
    assert history.anchor_source(placed("u1", "g1")) == (3.0, OWN_RUNS)
    history.on_change()
    assert history.anchor_source(placed("u1", "g1")) == (3.0, OTHER)  # retired runs, shifted by nothing yet


def test_a_job_of_a_new_application_is_anchored_on_its_users_runs_of_the_same_shape():
    history = History()
    history.update(job(app="a", request=3600.0, procs=8), 3.0)
    history.update(job(app="b", request=3600.0, procs=8), 3.2)
    history.update(job(app="b", request=60.0, procs=8), 1.0)
    assert history.anchor_source(job(app="c", request=3600.0, procs=8)) == (3.1, OWN_RUNS)
    assert history.anchor_source(job(app="a", request=3600.0, procs=8)) == (3.0, OWN_RUNS)  # its own first


def test_jobs_of_unknown_users_have_no_shape_to_share():
    history = History()
    history.update(job(user=None, app="a", request=3600.0, procs=8), 3.0)
    assert history.anchor_source(job(user=None, app="b", request=3600.0, procs=8)) == (None, None)


def test_an_anchor_without_runs_of_the_same_shape_is_the_same_request_else_another_request_else_other():
    history = History()
    history.update(job(request=3600.0, procs=8), 3.0)
    history.update(job(app="b", request=60.0, procs=8), 2.0)
    assert history.anchor_source(job(app="c", request=3600.0, procs=16)) == (3.0, SAME_REQUEST)
    assert history.anchor_source(job(app="c", request=7200.0)) == (2.0, ANOTHER_REQUEST)  # the user's last job
    assert history.anchor_source(job(app="c", request=None)) == (2.0, OTHER)  # the same, with no request
    assert history.anchor_source(job(user="v", app="a")) == (3.0, OTHER)  # the application's last job
    assert history.anchor_source(job(user="v", app="c")) == (None, None)  # a stranger


def test_an_anchor_from_runs_that_scatter_is_not_the_jobs_own():
    history = History(agreement=0.15)
    for outcome in (1.0, 2.0, 3.0):  # a factor of 10 between runs
        history.update(placed("u1", "g1"), outcome)
    assert history.anchor_source(placed("u1", "g1")) == (2.0, OTHER)
    for outcome in (2.1, 2.0, 1.9, 2.0):  # now most runs agree within a factor of 1.4
        history.update(placed("u1", "g1"), outcome)
    assert history.anchor_source(placed("u1", "g1")) == (2.0, OWN_RUNS)


def submitted_on(day):
    return Job("j", "s", day * 86_400.0, user="u", app="a", requested_walltime_s=3600.0)


def test_runs_whose_latest_is_older_than_the_stale_age_are_no_longer_the_jobs_own():
    history = History(stale_after_s=90 * 86_400.0)
    history.update(submitted_on(0), 3.0)
    assert history.anchor_source(submitted_on(90)) == (3.0, OWN_RUNS)
    assert history.anchor_source(submitted_on(91)) == (3.0, OTHER)  # still the anchor, counted as weak
    history.update(submitted_on(91), 3.0)
    assert history.anchor_source(submitted_on(92)) == (3.0, OWN_RUNS)  # a new run freshens them all


def test_a_history_restored_from_its_pickle_answers_and_learns_as_the_original():
    history = on_two_groups()
    history.update(Job("3", "s", 10.0, user="u2", app="a", requested_walltime_s=60), 2.0)
    history.on_change("g1")  # g1's signature retired, g2's current
    restored = pickle.loads(pickle.dumps(history))
    assert restored.retired and restored.signatures
    for h in (history, restored):
        h.update(placed("u1", "g2"), 3.5)
        h.update(Job("4", "s", 20.0, user="u2", app="a", requested_walltime_s=60), 2.5)
    jobs = [placed("u1", "g1"), placed("u1", "g2"), Job("5", "s", 30.0, user="u2", app="a", requested_walltime_s=60)]
    assert [restored.anchor_source(j) for j in jobs] == [history.anchor_source(j) for j in jobs]
    assert [restored.features(j) for j in jobs] == [history.features(j) for j in jobs]
    assert (restored.signatures, restored.retired) == (history.signatures, history.retired)
    assert restored.users == history.users and restored.apps == history.apps
