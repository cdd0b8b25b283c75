"""Shared fixtures: where the real data lives, and small slices of it.

The real traces are read from ``../shared/data`` (or ``PERFSTREAM_DATA``); they are never copied into
the repository. When the folder is missing the tests fail: a skipped data test is not a passing one.
"""

from __future__ import annotations

import gzip
import itertools
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    return Path(os.environ.get("PERFSTREAM_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def data() -> Path:
    folder = data_dir()
    if not (folder / "traces").is_dir() or not (folder / "tokio").is_dir():
        pytest.fail(f"real data not found at {folder} (set PERFSTREAM_DATA): these tests must not be skipped")
    return folder


@pytest.fixture(scope="session")
def sp2(data: Path) -> Path:
    return data / "traces" / "SDSC-SP2-1998-4.2-cln.swf.gz"


@pytest.fixture(scope="session")
def cori(data: Path) -> Path:
    return data / "tokio" / "cori-summaries_2017-02-14-2018-02-15.csv.gz"


def head(path: Path, lines: int) -> list[str]:
    """The first ``lines`` lines of a gzip text file."""
    with gzip.open(path, "rt") as text:
        return list(itertools.islice(text, lines))


@pytest.fixture
def swf_slice(sp2: Path, tmp_path: Path) -> Path:
    """The SDSC-SP2 header and its first ~2,000 jobs, as a plain .swf file."""
    lines = head(sp2, 2100)
    path = tmp_path / "SDSC-SP2-1998-4.2-cln.swf"
    path.write_text("".join(lines))
    return path


@pytest.fixture
def cori_slice(cori: Path, tmp_path: Path) -> Path:
    """The Cori header and its first 600 jobs, gzip-compressed like the original."""
    path = tmp_path / "cori-slice.csv.gz"
    with gzip.open(path, "wt") as out:
        out.writelines(head(cori, 601))
    return path


@pytest.fixture(scope="session")
def bootstrap() -> str:
    """A real Kafka broker for the session (see tests/kafka_support.py for where it comes from)."""
    from kafka_support import shared_broker

    address, stop = shared_broker()
    yield address
    if stop is not None:
        stop()


@pytest.fixture
def kafka(bootstrap: str):
    """Connection settings with topics of this test's own (a fresh prefix), created as topics.yaml declares."""
    from kafka_support import fresh_settings

    return fresh_settings(bootstrap)


@pytest.fixture
def workers(kafka, tmp_path):
    """Start ``perfstream worker`` processes on the test's topics; all are stopped afterwards."""
    from kafka_support import WorkerProcess

    started = []

    def start(group: str = "perfstream-test", *extra: str, settings=None) -> WorkerProcess:
        worker = WorkerProcess(settings or kafka, group, list(extra)).start(tmp_path)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process and worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait(30)


@pytest.fixture
def private_broker(tmp_path):
    """A broker of this test's own (deploy/local/kafka.sh on free ports), to stop, restart or log into."""
    from kafka_support import LocalBroker, free_port

    broker = LocalBroker(free_port(span=3), tmp_path / "kafka")
    broker.start()
    yield broker
    broker.stop()
