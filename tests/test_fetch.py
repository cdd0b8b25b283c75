"""``perfstream fetch``: public traces downloaded over real HTTP, kept only when their hash is right.

A real HTTP server (the standard library's, on a free local port) plays the publisher or a site's
mirror; the network beyond this machine is not needed.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import threading
from dataclasses import replace
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from kafka_support import free_port

from pipeline.cli import main
from pipeline.sources import catalog
from pipeline.sources.catalog import CATALOG, Trace, file_sha256

CTC = "CTC-SP2-1996-3.1-cln.swf.gz"


class _Server:
    """A folder served over HTTP, counting the requests."""

    def __init__(self, folder: Path):
        self.requests: list[str] = []
        served = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:
                served.requests.append(self.path)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(folder)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def mirror(data: Path, tmp_path: Path):
    """A mirror holding the real CTC-SP2 log."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    shutil.copy(data / "traces" / CTC, folder / CTC)
    server = _Server(folder)
    yield server, folder
    server.close()


@pytest.fixture
def archive(tmp_path: Path, monkeypatch):
    """A mirror holding a source archive with a trace inside (beside files that must not be written,
    one of them named to escape the data directory), and a catalog that knows the trace in it."""
    folder = tmp_path / "publisher"
    folder.mkdir()
    trace = b"; a log inside a package\n1 0 5 60 1 -1 -1 1 600 -1 1 1 1 1 1 -1 -1 -1\n"
    with tarfile.open(folder / "pkg-1.0.tar.gz", "w:gz") as tar:
        for name, content in (("pkg-1.0/setup.py", b"raise SystemExit"), ("pkg-1.0/examples/log.swf", trace),
                              ("../escaped.txt", b"outside")):
            entry = tarfile.TarInfo(name)
            entry.size = len(content)
            tar.addfile(entry, io.BytesIO(content))
    entry = Trace("log.swf", "https://publisher.example/pkg-1.0.tar.gz", hashlib.sha256(trace).hexdigest(),
                  "a log inside a package", member="pkg-1.0/examples/log.swf", development=False)
    monkeypatch.setattr("pipeline.sources.catalog.CATALOG", {**CATALOG, entry.name: entry})
    server = _Server(folder)
    yield server, entry, trace
    server.close()


def test_the_catalog_pins_the_very_files_of_the_development_data(data: Path):
    development = [trace for trace in CATALOG.values() if trace.development]
    assert len(development) == 5
    for trace in development:
        assert file_sha256(data / trace.folder / trace.name) == trace.sha256, trace.name


def test_a_trace_from_a_mirror_lands_where_the_data_directory_expects_it(mirror, tmp_path, capsys):
    server, _ = mirror
    assert main(["fetch", CTC, "--to", str(tmp_path / "data"), "--mirror", server.url, "--quiet"]) == 0
    fetched = tmp_path / "data" / "traces" / CTC
    assert file_sha256(fetched) == CATALOG[CTC].sha256
    assert "downloaded (sha256 checked)" in capsys.readouterr().out


def test_a_trace_already_there_with_its_hash_is_not_downloaded_again(mirror, tmp_path, capsys):
    server, _ = mirror
    for _ in range(2):
        assert main(["fetch", CTC, "--to", str(tmp_path), "--mirror", server.url, "--quiet"]) == 0
    assert server.requests == [f"/{CTC}"]
    assert "already there" in capsys.readouterr().out


def test_a_download_with_the_wrong_hash_is_refused_and_leaves_nothing(mirror, tmp_path, capsys):
    server, folder = mirror
    damaged = bytearray((folder / CTC).read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # one byte changed
    (folder / CTC).write_bytes(bytes(damaged))
    assert main(["fetch", CTC, "--to", str(tmp_path / "data"), "--mirror", server.url, "--quiet"]) == 2
    assert "expected " + CATALOG[CTC].sha256 in capsys.readouterr().err
    assert list((tmp_path / "data" / "traces").iterdir()) == []


def test_an_unreachable_server_is_a_one_line_error_naming_the_url(tmp_path, capsys):
    closed = f"http://127.0.0.1:{free_port()}"
    assert main(["fetch", CTC, "--to", str(tmp_path), "--mirror", closed, "--quiet"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"cannot download {closed}/{CTC}" in error
    assert not list(tmp_path.rglob("*.gz*"))


def test_a_file_missing_on_the_server_is_named_with_the_servers_answer(mirror, tmp_path, capsys):
    server, folder = mirror
    (folder / CTC).unlink()
    assert main(["fetch", CTC, "--to", str(tmp_path), "--mirror", server.url, "--quiet"]) == 2
    assert "File not found" in capsys.readouterr().err


def test_any_other_file_is_fetched_by_url_and_checked_by_the_hash_given(mirror, tmp_path, capsys):
    server, _ = mirror
    url = f"{server.url}/{CTC}"
    assert main(["fetch", "--url", url, "--sha256", "0" * 64, "--to", str(tmp_path), "--quiet"]) == 2
    assert main(["fetch", "--url", url, "--sha256", CATALOG[CTC].sha256, "--to", str(tmp_path), "--quiet"]) == 0
    assert file_sha256(tmp_path / CTC) == CATALOG[CTC].sha256


def test_an_unknown_trace_name_lists_the_known_ones(tmp_path, capsys):
    assert main(["fetch", "LANL-CM5.swf.gz", "--to", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "unknown trace LANL-CM5.swf.gz" in error and all(name in error for name in CATALOG)


def test_a_trace_published_inside_an_archive_is_taken_out_and_kept_alone(archive, tmp_path, capsys):
    server, entry, trace = archive
    to = tmp_path / "data"
    assert main(["fetch", entry.name, "--to", str(to), "--mirror", server.url, "--quiet"]) == 0
    assert (to / "traces" / entry.name).read_bytes() == trace
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if "publisher" not in p.parts) == [
        "data", "data/traces", "data/traces/log.swf"]
    assert "downloaded (sha256 checked)" in capsys.readouterr().out


def test_an_archive_without_the_trace_in_it_is_refused_naming_the_member(archive, tmp_path, monkeypatch, capsys):
    server, entry, _ = archive
    monkeypatch.setitem(catalog.CATALOG, entry.name, replace(entry, member="pkg-1.0/log.swf"))
    assert main(["fetch", entry.name, "--to", str(tmp_path / "data"), "--mirror", server.url, "--quiet"]) == 2
    assert "no file pkg-1.0/log.swf in it; the file was not kept" in capsys.readouterr().err
    assert list((tmp_path / "data" / "traces").iterdir()) == []


def test_a_trace_taken_out_of_an_archive_with_the_wrong_hash_is_refused(archive, tmp_path, monkeypatch, capsys):
    server, entry, _ = archive
    monkeypatch.setitem(catalog.CATALOG, entry.name, replace(entry, sha256="0" * 64))
    assert main(["fetch", entry.name, "--to", str(tmp_path / "data"), "--mirror", server.url, "--quiet"]) == 2
    assert f"({entry.member}): sha256 " in capsys.readouterr().err
    assert list((tmp_path / "data" / "traces").iterdir()) == []


def test_without_names_only_the_development_data_is_fetched(archive, mirror, tmp_path, monkeypatch):
    server, entry, _ = archive
    ctc_server, _ = mirror
    monkeypatch.setattr("pipeline.sources.catalog.CATALOG", {CTC: CATALOG[CTC], entry.name: entry})
    assert main(["fetch", "--to", str(tmp_path / "data"), "--mirror", ctc_server.url, "--quiet"]) == 0
    assert [p.name for p in (tmp_path / "data").rglob("*") if p.is_file()] == [CTC]
    assert server.requests == []
