"""The Slurm bridge's Prometheus series, read from its running :class:`Tally` at each scrape.

A bridge is a long-running process of its own (next to slurmdbd, not next to the workers): when it
stops publishing, the workers see nothing wrong, they just get no jobs. Its series say whether it is
still at work (``perfstream_slurm_last_round_timestamp_seconds``) and what it did.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pipeline.service.slurm_bridge import Tally


class TallyCollector(Collector):
    """One bridge's tally as Prometheus series, labelled with its feed (``sacct`` or ``jobcomp``).

    Examples
    --------
    >>> families = {m.name: m for m in TallyCollector("sacct", Tally(jobs=3)).collect()}
    >>> sample = families["perfstream_slurm_jobs"].samples[0]
    >>> sample.name, sample.labels, sample.value
    ('perfstream_slurm_jobs_total', {'feed': 'sacct'}, 3)
    """

    def __init__(self, feed: str, tally: Tally):
        self.feed, self.tally = feed, tally

    def collect(self) -> Iterator[Metric]:
        feed, tally = [self.feed], self.tally
        for name, documentation, value in (
            ("jobs", "Jobs published: a submission and a completion, or the completion of a job announced "
                     "ahead", tally.jobs),
            ("submissions_ahead", "Submissions published while their jobs waited or ran (--pending)", tally.announced),
            ("records_skipped", "Finished jobs with nothing to learn from (never ran, or ran 0 s)", tally.skipped),
            ("sacct_failures", "Rounds in which sacct failed (they are asked again)", tally.failures),
        ):
            counter = CounterMetricFamily(f"perfstream_slurm_{name}", documentation, labels=["feed"])
            counter.add_metric(feed, value)
            yield counter
        dead = CounterMetricFamily("perfstream_slurm_dead_letters", "Records sent to the dead-letter topic, by "
                                   "category", labels=["feed", "category"])
        for category, count in sorted(dict(tally.dead).items()):  # copied at once: the bridge may add one meanwhile
            dead.add_metric([self.feed, category], count)
        yield dead
        last = GaugeMetricFamily("perfstream_slurm_last_round_timestamp_seconds", "When sacct last answered, or "
                                 "the plugin's topic was last polled (0: not yet)", labels=["feed"])
        last.add_metric(feed, tally.last_round)
        yield last


def serve(feed: str, tally: Tally, port: int, address: str) -> None:
    """Serve ``tally`` on ``/metrics`` at ``address:port`` from a background thread."""
    registry = CollectorRegistry()
    registry.register(TallyCollector(feed, tally))
    start_http_server(port, address, registry=registry)
