"""The Slurm feeds' Prometheus series, read from their running tallies at each scrape.

A bridge is a long-running process of its own (next to slurmdbd, not next to the workers): when it
stops publishing, the workers see nothing wrong, they just get no jobs. Its series say whether it is
still at work (``perfstream_slurm_last_round_timestamp_seconds``) and what it did. The annotator's
say what became of the predictions it was to write into Slurm, and whether they wait for slurmctld.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pipeline.service.slurm_annotate import Annotated
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


class AnnotatedCollector(Collector):
    """The annotator's tally as Prometheus series.

    Examples
    --------
    >>> families = {m.name: m for m in AnnotatedCollector(Annotated(written=2, refused=1)).collect()}
    >>> [(s.labels["outcome"], s.value) for s in families["perfstream_slurm_annotations"].samples]
    [('written', 2), ('array', 0), ('ended', 0), ('refused', 1)]
    """

    def __init__(self, tally: Annotated):
        self.tally = tally

    def collect(self) -> Iterator[Metric]:
        tally = self.tally
        annotations = CounterMetricFamily("perfstream_slurm_annotations", "Predictions written into their jobs' "
                                          "(or arrays') AdminComment, tasks of an array annotated whole already, "
                                          "passed over because the job had ended, or refused by scontrol",
                                          labels=["outcome"])
        for outcome, count in (("written", tally.written), ("array", tally.in_array), ("ended", tally.gone),
                               ("refused", tally.refused)):
            annotations.add_metric([outcome], count)
        yield annotations
        yield CounterMetricFamily("perfstream_slurm_controller_unreachable", "Rounds in which slurmctld did not "
                                  "answer (their predictions waited to be tried again)", value=tally.unreachable)
        yield GaugeMetricFamily("perfstream_slurm_annotate_last_round_timestamp_seconds", "When no prediction "
                                "last waited for slurmctld (0: not yet)", value=tally.last_round)


def collector(feed: str, tally: Tally | Annotated) -> Collector:
    """The collector of a feed's tally: the annotator's, or a bridge's labelled with ``feed``."""
    return AnnotatedCollector(tally) if isinstance(tally, Annotated) else TallyCollector(feed, tally)


def serve(collector: Collector, port: int, address: str) -> None:
    """Serve ``collector``'s series on ``/metrics`` at ``address:port`` from a background thread."""
    registry = CollectorRegistry()
    registry.register(collector)
    start_http_server(port, address, registry=registry)
