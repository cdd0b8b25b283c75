"""The worker's pure parts, without a broker: decoding, sealing, event-time merging, shards."""

from __future__ import annotations

import itertools
import json
import pickle

import pytest

from pipeline.processor import STATE_FORMAT, Processor
from pipeline.schemas import topic_for, validate
from pipeline.service.checkpoint import Checkpoint, ForgedCheckpoint, seal, unseal
from pipeline.service.envelope import Rejected, decode
from pipeline.service.merge import EventTimeMerger
from pipeline.service.shards import DEAD_LETTERS, INPUTS, Message, ShardedProcessor
from pipeline.sources import open_source

HEALTH = {"schema": "node-health/1", "system": "a", "component": "fs", "time": 1, "status": "ok"}


def test_decode_accepts_a_valid_event_with_its_system_as_key():
    assert decode(json.dumps(HEALTH).encode(), b"a", "hpc.node-health") == HEALTH


@pytest.mark.parametrize(("raw", "key", "category"), [
    (b"x" * 300, b"a", "oversized"),
    (b"\xc3\x28", b"a", "not-utf8"),
    (b"{", b"a", "not-json"),
    (b'"a string"', b"a", "not-an-object"),
    (json.dumps({**HEALTH, "status": 3}).encode(), b"a", "schema-violation"),
    (json.dumps({**HEALTH, "schema": "node-health/2"}).encode(), b"a", "unknown-version"),
    (json.dumps({"schema": "job-submission/1", "job_id": "1", "system": "a", "time": 1}).encode(), b"a",
     "wrong-topic"),
    (json.dumps(HEALTH).encode(), b"b", "wrong-key"),
])
def test_decode_rejects_with_a_category(raw, key, category):
    with pytest.raises(Rejected) as rejected:
        decode(raw, key, "hpc.node-health", max_bytes=256)
    assert rejected.value.category == category


def test_a_tampered_checkpoint_is_refused_before_unpickling():
    blob = bytearray(seal(Checkpoint("a", 0, {}, {"w": 1.0}, "naive", ("runtime_s",), 0.0), b"key"))
    blob[-1] ^= 1
    with pytest.raises(ForgedCheckpoint):
        unseal(bytes(blob), b"key")


def test_a_signed_payload_that_is_not_a_checkpoint_is_refused():
    import hashlib
    import hmac
    import zlib

    from pipeline.service.checkpoint import MAGIC

    body = zlib.compress(pickle.dumps({"not": "a checkpoint"}))
    blob = MAGIC + hmac.new(b"key", MAGIC + body, hashlib.sha256).digest() + body
    with pytest.raises(ForgedCheckpoint):
        unseal(blob, b"key")


def test_merger_releases_in_event_time_order_across_topics():
    merger = EventTimeMerger(["ends", "subs"])
    merger.push("subs", "s@5", {"schema": "job-submission/1", "time": 5}, now=0)
    merger.push("subs", "s@9", {"schema": "job-submission/1", "time": 9}, now=0)
    merger.push("ends", "e@7", {"schema": "job-completion/1", "time": 1, "end_time": 7}, now=0)
    assert merger.pop_ready(0, caught_up=lambda t, head: True) == ["s@5", "e@7", "s@9"]


def test_merger_waits_for_a_topic_that_is_behind_however_long():
    merger = EventTimeMerger(["ends", "subs"], max_wait_s=1)
    merger.push("subs", "s", {"schema": "job-submission/1", "time": 5}, now=0)
    assert merger.pop_ready(100, caught_up=lambda t, head: False) == []


def test_merger_gives_up_on_an_unknown_topic_after_max_wait():
    merger = EventTimeMerger(["ends", "subs"], max_wait_s=1)
    merger.push("subs", "s", {"schema": "job-submission/1", "time": 5}, now=0)
    assert merger.pop_ready(0.5, caught_up=lambda t, head: None) == []
    assert merger.pop_ready(1.5, caught_up=lambda t, head: None) == ["s"]


def test_merger_grace_holds_events_until_the_empty_topic_is_silent():
    merger = EventTimeMerger(["ends", "subs"], grace_s=0.5)
    merger.heard("ends", now=0)
    merger.push("subs", "s", {"schema": "job-submission/1", "time": 5}, now=0)
    assert merger.pop_ready(0.2, caught_up=lambda t, head: True) == []
    assert merger.pop_ready(0.6, caught_up=lambda t, head: True) == ["s"]


def test_merger_releases_an_eager_topics_event_past_a_caught_up_frontier_at_once():
    merger = EventTimeMerger(["ends", "subs"], grace_s=0.5, eager=("subs",))
    merger.heard("ends", now=0)
    merger.push("subs", "s", {"schema": "job-submission/1", "time": 5}, now=0)
    assert merger.pop_ready(0.1, caught_up=lambda t, head: True) == ["s"]


def test_merger_holds_an_eager_topics_event_for_a_topic_that_is_behind():
    merger = EventTimeMerger(["ends", "subs"], grace_s=0.5, eager=("subs",))
    merger.push("subs", "s", {"schema": "job-submission/1", "time": 5}, now=0)
    assert merger.pop_ready(100, caught_up=lambda t, head: False) == []


def messages(path, limit: int) -> list[Message]:
    """A trace as the worker would receive it: each event on its topic, all in partition 0, with offsets."""
    offsets = dict.fromkeys(INPUTS, 0)
    out = []
    for event in itertools.islice(open_source(path), limit):
        topic = topic_for(event["schema"], "in")
        out.append(Message(topic, 0, offsets[topic], event["system"].encode(), json.dumps(event).encode(), 0.0))
        offsets[topic] += 1
    return out


def run_released(sharded: ShardedProcessor, batch: list[Message]) -> list[tuple[Message, list]]:
    """Each message of ``batch`` accepted, then what that lets the shard release."""
    released = []
    for m in batch:
        sharded.accept(Message(m.topic, m.partition, m.offset, m.key, m.value, 0.0))
        released += sharded.release(0, caught_up=lambda t, head: t == "hpc.node-health")
    return released


def run(sharded: ShardedProcessor, batch: list[Message]) -> list[dict]:
    return [record for _, outputs in run_released(sharded, batch) for _, _, record in outputs]


def test_restored_shard_skips_what_its_checkpoint_covers_and_continues_identically(swf_slice):
    batch = messages(swf_slice, 2000)
    uninterrupted = ShardedProcessor(Processor("default"))
    uninterrupted.assign(0, [])
    expected = run(uninterrupted, batch)
    first = ShardedProcessor(Processor("default"))
    first.assign(0, [])
    before = run(first, batch[:1200])
    checkpoints, _ = first.snapshot(0)

    second = ShardedProcessor(Processor("default"))
    second.assign(0, [unseal(seal(cp, b"k"), b"k") for cp in checkpoints])
    after = run(second, batch)  # Kafka redelivers from an older committed offset: duplicates included

    assert before + after == expected


def test_snapshot_acknowledges_only_finished_messages(swf_slice):
    sharded = ShardedProcessor(Processor("naive"))
    sharded.assign(0, [])
    batch = messages(swf_slice, 10)
    for i, m in enumerate(batch):
        sharded.accept(Message(m.topic, m.partition, m.offset, m.key, m.value, 0.0, handle=i))
    released = sharded.release(0, caught_up=lambda t, head: t == "hpc.node-health")

    _, handles = sharded.snapshot(0)

    assert sorted(handles) == sorted(m.handle for m, _ in released)
    assert len(handles) < len(batch)  # the newest submission waits for the completions to catch up


def test_a_completion_ahead_of_its_own_submission_waits_for_it_at_a_caught_up_frontier(swf_slice):
    batch = messages(swf_slice, 200)
    completion = next(m for m in batch if m.topic == "hpc.job-completions")
    submission = next(m for m in batch if m.topic == "hpc.job-submissions"
                      and json.loads(m.value)["job_id"] == json.loads(completion.value)["job_id"])
    sharded = ShardedProcessor(Processor("naive"), max_wait_s=60.0)
    sharded.assign(0, [])
    sharded.accept(completion)
    assert sharded.release(0, caught_up=lambda t, head: True) == []  # its submission may be a moment behind

    sharded.accept(submission)
    released = sharded.release(0, caught_up=lambda t, head: True)

    assert [m.topic for m, _ in released] == ["hpc.job-submissions", "hpc.job-completions"]


def test_a_completion_a_producer_sent_twice_is_a_dead_letter_the_second_time(swf_slice):
    batch = messages(swf_slice, 200)
    completion = next(m for m in batch if m.topic == "hpc.job-completions")
    again = Message(completion.topic, 0, 10_000, completion.key, completion.value, 0.0)
    sharded = ShardedProcessor(Processor("naive"))
    sharded.assign(0, [])

    released = run_released(sharded, batch) + run_released(sharded, [again])

    letters = [record for _, outputs in released for topic, _, record in outputs if topic == DEAD_LETTERS]
    assert [letter["category"] for letter in letters] == ["duplicate-completion"]
    validate(letters[0])


def test_a_checkpoint_of_another_strategy_is_refused_on_assign():
    sharded = ShardedProcessor(Processor("naive"))
    refused = sharded.assign(0, [Checkpoint("a", 0, {}, None, "select", ("runtime_s",), 0.0)])
    assert len(refused) == 1 and "a" not in sharded.processor.systems


def test_a_checkpoint_whose_state_has_another_layout_is_refused_on_assign():
    sharded = ShardedProcessor(Processor("naive"))
    older = Checkpoint("a", 0, {}, None, "naive", ("runtime_s",), 0.0, STATE_FORMAT - 1)
    current = Checkpoint("b", 0, {}, None, "naive", ("runtime_s",), 0.0, STATE_FORMAT)
    assert sharded.assign(0, [older, current]) == [older]
    assert "a" not in sharded.processor.systems and "b" in sharded.processor.systems


def test_a_checkpoint_sealed_before_state_formats_were_recorded_reads_format_1():
    old = Checkpoint("a", 0, {}, None, "naive", ("runtime_s",), 0.0)
    del old.__dict__["state_format"]  # as unpickled from a checkpoint written without the field
    assert unseal(seal(old, b"k"), b"k").state_format == 1
