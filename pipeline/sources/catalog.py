"""Public traces perfstream reads, where to download them, and a checked download.

The development data (four Parallel Workloads Archive logs and the TOKIO year on Cori) is pinned by
SHA-256, so a download is the very file the README's numbers were measured on. Any other public
file (another PWA log, a newer TOKIO summary) can be fetched by URL, pinned by the caller's hash.
Beside them, logs the default was measured on after it was chosen (``development=False``), some of
which are published only inside an archive: the catalog names the member, and the download keeps
that file alone, pinned by its own hash.

A download streams into ``<name>.part`` beside its destination while hashing, and is renamed only
once its hash is right: an interrupted or corrupted download never looks like a trace. A site
without internet access points ``mirror`` at a local copy of the files (any HTTP server, or a
``file://`` folder) holding the files as published (an archive, where a trace comes in one).
"""

from __future__ import annotations

import hashlib
import tarfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

PWA = "https://www.cs.huji.ac.il/labs/parallel/workload"


@dataclass(frozen=True)
class Trace:
    """A public trace: its file name, where it is published, its SHA-256, what it is, and the folder
    of a data directory it belongs in (``traces`` or ``tokio``, as ``PERFSTREAM_DATA`` is laid out).

    ``member`` is the trace's path inside the tar archive at ``url`` (empty: ``url`` is the trace
    itself); ``sha256`` is always the trace's own. ``development`` says whether it is part of the
    development data (``../shared/data``) that the defaults were chosen on.
    """

    name: str
    url: str
    sha256: str
    about: str
    folder: str = "traces"
    member: str = ""
    development: bool = True


CATALOG = {
    trace.name: trace for trace in (
        Trace("SDSC-SP2-1998-4.2-cln.swf.gz", f"{PWA}/l_sdsc_sp2/SDSC-SP2-1998-4.2-cln.swf.gz",
              "e03fe48be50c4ab04d6bb2285296d9c3399e9c1f27ee79b754ad32a14abd9bac",
              "SWF: SDSC IBM SP2, 128 nodes, 1998-2000, 59,715 jobs"),
        Trace("CTC-SP2-1996-3.1-cln.swf.gz", f"{PWA}/l_ctc_sp2/CTC-SP2-1996-3.1-cln.swf.gz",
              "9fa28ac16c4386fb81b72a91d8bd8888281df2948a9d912769d387c5ee285bb4",
              "SWF: Cornell Theory Center IBM SP2, 1996-1997, 77,222 jobs"),
        Trace("HPC2N-2002-2.2-cln.swf.gz", f"{PWA}/l_hpc2n/HPC2N-2002-2.2-cln.swf.gz",
              "3c534857d6065cfd9cc35aac8d064c9c17172be7acf336de835006f43a626e64",
              "SWF: HPC2N Linux cluster, 240 CPUs, 2002-2006, 202,871 jobs"),
        Trace("SDSC-BLUE-2000-4.2-cln.swf.gz", f"{PWA}/l_sdsc_blue/SDSC-BLUE-2000-4.2-cln.swf.gz",
              "9aab21f3cfa108f3ecefa52391b384d996dcf4216f920186f47a734646b2c658",
              "SWF: SDSC Blue Horizon, 1,152 CPUs, 2000-2003, 243,306 jobs"),
        Trace("cori-summaries_2017-02-14-2018-02-15.csv.gz",
              "https://raw.githubusercontent.com/NERSC/tokio-abcutils/d8594fb7cc0060d24d7f24c68390daebdf18383f/"
              "summaries/cori-summaries_2017-02-14-2018-02-15.csv.gz",
              "6ab5e6ae540d312885a3cc12773fd4318315e5200a2df18c605b674aaea60bb3",
              "TOKIO: a year of I/O benchmarks on NERSC's Cori, 2017-2018, 11,232 jobs", "tokio"),
        # the PWA publishes its "uncleaned" Gaia log; evalys (a Batsim analysis library) ships it in its sdist
        Trace("UniLu-Gaia-2014-2.swf",
              "https://files.pythonhosted.org/packages/da/ff/8af4051a4bc697e0d4bef17ed568da71d3c525f01e30d1c15f56fdb21cd3/"
              "evalys-4.0.7.tar.gz",
              "56fce4136ef8eec4e8403fb07e194e96bd5d6a519fef87ca7b6111d169e62646",
              "SWF: University of Luxembourg Gaia cluster, 2014, 51,987 jobs; the first log the default met "
              "unseen (docs/results.md), from evalys 4.0.7's source archive on PyPI",
              member="evalys-4.0.7/examples/UniLu-Gaia-2014-2.swf", development=False),
    )
}


class FetchError(OSError):
    """A download that failed or came out wrong; the message names the URL and what to do."""


def source_url(trace: Trace, mirror: str | None = None) -> str:
    """Where to download ``trace``: its publisher, or ``mirror`` + the published file's name.

    Examples
    --------
    >>> ctc = CATALOG["CTC-SP2-1996-3.1-cln.swf.gz"]
    >>> source_url(ctc).startswith("https://www.cs.huji.ac.il/labs/parallel/workload/l_ctc_sp2/")
    True
    >>> source_url(ctc, "http://mirror.example/hpc/")
    'http://mirror.example/hpc/CTC-SP2-1996-3.1-cln.swf.gz'
    """
    return f"{mirror.rstrip('/')}/{trace.url.rsplit('/', 1)[-1]}" if mirror else trace.url


def fetch(url: str, destination: Path, sha256: str | None,
          progress: Callable[[int, int | None], None] | None = None, member: str = "") -> bool:
    """Download ``url`` to ``destination`` if it is not already there with hash ``sha256``.

    Returns whether a download happened. With ``member``, ``url`` is a tar archive (compressed or
    not) and only that file of it is kept. Without ``sha256`` the file is taken as it comes (and an
    existing one is kept). ``progress(bytes_so_far, total_or_None)`` is called as data arrives.

    Raises
    ------
    FetchError
        The server could not be reached or refused, the archive holds no file ``member``, or the
        file's hash is not ``sha256``; nothing is left at ``destination`` or beside it.
    """
    if destination.exists() and (sha256 is None or file_sha256(destination) == sha256):
        return False
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    if member:
        archive = destination.with_name(destination.name + ".archive.part")
        try:
            _download(url, archive, destination, progress)
            found = _extract(archive, member, partial, url)
        finally:
            archive.unlink(missing_ok=True)
    else:
        found = _download(url, partial, destination, progress)
    if sha256 is not None and found != sha256:
        partial.unlink()
        what = f"{url} ({member})" if member else url
        raise FetchError(f"{what}: sha256 {found}, expected {sha256}; the file was not kept")
    partial.replace(destination)
    return True


def _copy(source: IO[bytes], out: IO[bytes], progress: Callable[[int, int | None], None] | None = None,
          total: int | None = None) -> str:
    """Copy ``source`` to ``out`` in blocks; return the SHA-256 of what was copied."""
    digest, done = hashlib.sha256(), 0
    while block := source.read(1 << 16):
        out.write(block)
        digest.update(block)
        done += len(block)
        if progress:
            progress(done, total)
    return digest.hexdigest()


def _download(url: str, partial: Path, destination: Path, progress: Callable[[int, int | None], None] | None) -> str:
    """Stream ``url`` into ``partial`` and return its SHA-256; on failure remove it and say how to get
    ``destination`` otherwise."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response, partial.open("wb") as out:
            length = response.headers.get("Content-Length")
            return _copy(response, out, progress, int(length) if length else None)
    except (urllib.error.URLError, OSError) as error:
        partial.unlink(missing_ok=True)
        reason = getattr(error, "reason", error)
        raise FetchError(f"cannot download {url}: {reason}; where the network is closed, copy the file to "
                         f"{destination} by hand or give a --mirror") from error


def _extract(archive: Path, member: str, out: Path, url: str) -> str:
    """Copy the file ``member`` of the tar ``archive`` (downloaded from ``url``) to ``out``; return its
    SHA-256.

    Only that member's bytes are read (``extractfile``): nothing else of the archive is written,
    whatever paths or links it holds.
    """
    try:
        with tarfile.open(archive) as tar:
            source = tar.extractfile(member)  # KeyError if absent
            if source is None:
                raise KeyError(f"{member} is not a regular file")
            with source, out.open("wb") as sink:
                return _copy(source, sink)
    except (tarfile.TarError, KeyError, EOFError, OSError, zlib.error) as error:
        out.unlink(missing_ok=True)
        absent = isinstance(error, KeyError)
        reason = f"no file {member} in it" if absent else f"cannot take {member} out of it: {error}"
        raise FetchError(f"{url}: {reason}; the file was not kept") from error


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while block := data.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
