"""End-to-end throughput and latency of one worker on a real broker, against a trivial faust agent.

Throughput: a backlog of ``--events`` events of SDSC-SP2 is published first; then one process
(``perfstream worker`` or benchmarks/trivial_agent.py, consume-and-send) reads it and writes one
record per event. Events/s = records / (last - first output timestamp), from the broker's CreateTime,
so the benchmark's own consumer is not what is measured. Latency: with the process running and
caught up, events are published at ``--rate`` per second; a submission's latency is its prediction's
timestamp minus its own. Each contender runs ``--repeats`` times on fresh topics; medians reported,
and the ratio worker / trivial agent from the same run.

    deploy/local/kafka.sh start
    python benchmarks/bench_service.py --data ../shared/data --repeats 3 --json bench-service.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from tqdm import tqdm

from pipeline.schemas import topic_for
from pipeline.service.admin import create_topics
from pipeline.service.config import KafkaSettings
from pipeline.sources.swf import SwfSource

HERE = Path(__file__).resolve().parent
PERFSTREAM = Path(sys.executable).parent / "perfstream"
# one output per input event: a prediction (or the trivial agent's copy), or a dead letter, which
# the worker writes for an event it cannot use (e.g. a submission that arrives after its completion)
OUTPUTS = ("hpc.predictions", "hpc.dead-letters")


def fresh_topics(bootstrap: str) -> KafkaSettings:
    settings = KafkaSettings(bootstrap=bootstrap, topic_prefix=f"bench{uuid.uuid4().hex[:8]}.")
    create_topics(settings)
    return settings


def publish(settings: KafkaSettings, events: list[dict], rate: float | None = None,
            producer: KafkaProducer | None = None) -> None:
    """Send ``events`` (at ``rate`` per second, else at once) with ``producer``, or a new one closed after."""
    own = producer is None
    if own:
        producer = KafkaProducer(bootstrap_servers=settings.bootstrap, linger_ms=0 if rate else 5,
                                 batch_size=256 * 1024)
    payloads = [(settings.topic(topic_for(e["schema"], "in")), e["system"].encode(), json.dumps(e).encode())
                for e in events]
    start = time.monotonic()
    for i, (topic, key, value) in enumerate(payloads):
        if rate:
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        producer.send(topic, value, key=key)
    producer.flush()
    if own:
        producer.close()


def timestamps(settings: KafkaSettings, topics: tuple[str, ...], expected: int,
               timeout: float = 300) -> list[tuple[int, dict]]:
    """(CreateTime ms, record) of ``expected`` records of ``topics`` together, read from the beginning."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=None, enable_auto_commit=False)
    partitions = [TopicPartition(settings.topic(topic), p)
                  for topic in topics for p in consumer.partitions_for_topic(settings.topic(topic))]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    out: list[tuple[int, dict]] = []
    deadline = time.monotonic() + timeout
    while len(out) < expected and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            out += [(r.timestamp, json.loads(r.value)) for r in records]
    consumer.close()
    if len(out) < expected:
        raise TimeoutError(f"{len(out)} of {expected} records on {', '.join(topics)} after {timeout} s")
    return out


def dead_letters(outputs: list[tuple[int, dict]]) -> int:
    return sum(record.get("schema") == "dead-letter/1" for _, record in outputs)


def start(contender: str, settings: KafkaSettings, log: Path) -> subprocess.Popen:
    group = f"{contender}-{uuid.uuid4().hex[:6]}"
    if contender == "worker":
        command = [str(PERFSTREAM), "worker", "--bootstrap", settings.bootstrap, "--topic-prefix",
                   settings.topic_prefix, "--group", group, "--metrics-port", "0", "--loglevel", "warning"]
    else:
        command = [sys.executable, str(HERE / "trivial_agent.py"), "--bootstrap", settings.bootstrap,
                   "--prefix", settings.topic_prefix, "--group", group]
    env = {**os.environ, "PERFSTREAM_CHECKPOINT_KEY": "benchmark-checkpoint-key"}
    return subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def throughput(contender: str, bootstrap: str, events: list[dict], log_dir: Path) -> tuple[float, int]:
    """Events per second through ``contender``, and the dead letters it wrote."""
    settings = fresh_topics(bootstrap)
    publish(settings, events)
    process = start(contender, settings, log_dir / f"{contender}-throughput.log")
    try:
        outputs = timestamps(settings, OUTPUTS, len(events))
    finally:
        process.terminate()
        process.wait(60)
    stamps = [t for t, _ in outputs]
    return (len(stamps) - 1) / ((max(stamps) - min(stamps)) / 1000), dead_letters(outputs)


def latency(contender: str, bootstrap: str, events: list[dict], rate: float, warmup: int,
            log_dir: Path) -> tuple[list[float], int]:
    """Seconds from each submission to its prediction, after the first ``warmup`` events, and the
    dead letters written."""
    settings = fresh_topics(bootstrap)
    process = start(contender, settings, log_dir / f"{contender}-latency.log")
    # One producer for both phases: a new one's first sends (connections, metadata) delayed ~40
    # events by 20-45 ms for either contender, and that start-up burst alone decided the p99.
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap, linger_ms=0)
    try:
        publish(settings, events[:warmup], rate, producer)  # until the process answers, it is not caught up
        timestamps(settings, OUTPUTS, warmup, timeout=120)
        publish(settings, events[warmup:], rate, producer)
        outputs = timestamps(settings, OUTPUTS, len(events))
        inputs = timestamps(settings, ("hpc.job-submissions",),
                            sum(e["schema"] == "job-submission/1" for e in events))
    finally:
        producer.close()
        process.terminate()
        process.wait(60)
    warm = sum(e["schema"] == "job-submission/1" for e in events[:warmup])
    submitted = {record["job_id"]: t for t, record in inputs}
    answered: dict[str, int] = {}
    for t, record in outputs:
        if record.get("schema", "job-submission/1") in ("job-submission/1", "prediction/1") \
                and record.get("stage", "submission") == "submission":
            answered.setdefault(record["job_id"], t)
    return [(answered[j] - submitted[j]) / 1000 for j in list(submitted)[warm:] if j in answered], \
        dead_letters(outputs)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default=os.environ.get("PERFSTREAM_BOOTSTRAP", "127.0.0.1:19092"))
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--latency-events", type=int, default=5_000)
    parser.add_argument("--warmup-events", type=int, default=20, help="published before latency counts")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()

    source = SwfSource(Path(args.data) / "traces" / "SDSC-SP2-1998-4.2-cln.swf.gz")
    events = list(itertools.islice(source, args.events))
    log_dir = Path(tempfile.mkdtemp(prefix="bench-service-"))
    results: dict[str, dict[str, list[float]]] = {
        c: {"throughput": [], "p50": [], "p99": [], "dead_letters": []} for c in ("trivial", "worker")}
    runs = [(c, r) for r in range(args.repeats) for c in ("trivial", "worker")]
    for contender, _ in tqdm(runs, desc="service benchmark", unit="run"):
        speed, lost_fast = throughput(contender, args.bootstrap, events, log_dir)
        lat, lost_paced = latency(contender, args.bootstrap, events[:args.latency_events], args.rate,
                                  args.warmup_events, log_dir)
        results[contender]["throughput"].append(speed)
        results[contender]["p50"].append(percentile(lat, 0.50))
        results[contender]["p99"].append(percentile(lat, 0.99))
        results[contender]["dead_letters"].append(lost_fast + lost_paced)
    summary = {c: {k: statistics.median(v) for k, v in r.items()} for c, r in results.items()}
    summary["ratio_worker_to_trivial"] = summary["worker"]["throughput"] / summary["trivial"]["throughput"]
    print(f"{'':10}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'dead letters':>14}   (median of "
          f"{args.repeats}; latency at {args.rate:.0f} events/s; dead letters summed over runs)")
    for contender in ("trivial", "worker"):
        s = summary[contender]
        print(f"{contender:10}{s['throughput']:>10.0f}{s['p50'] * 1000:>9.1f}{s['p99'] * 1000:>9.1f}"
              f"{sum(results[contender]['dead_letters']):>14.0f}")
    print(f"worker / trivial agent throughput: {summary['ratio_worker_to_trivial']:.2f}x   (logs: {log_dir})")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "runs": results, "median": summary}, indent=2))


if __name__ == "__main__":
    main()
