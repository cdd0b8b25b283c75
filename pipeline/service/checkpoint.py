"""Sealed checkpoints: learned state that is only ever unpickled after its HMAC checks out.

A checkpoint is ``MAGIC | HMAC-SHA256(key, MAGIC | body) | body`` with ``body`` the zlib-compressed
pickle. Unpickling runs code, so a forged or corrupted checkpoint must be refused before
:func:`pickle.loads` ever sees it: the signature is checked first, in constant time.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import pickle
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MAGIC = b"PSCK1"
_MAC_SIZE = hashlib.sha256().digest_size


class ForgedCheckpoint(ValueError):
    """A checkpoint whose signature does not match the key: refused, never unpickled."""


@dataclass
class Checkpoint:
    """One system's learned state and the input offsets it covers.

    ``positions`` maps each input topic to the offset of the last message of the system's partition
    (``shard``) that the state includes; messages at or below it must not be learned again.
    ``strategy`` and ``targets`` say which model built the state, ``state_format`` the layout of its
    classes (:data:`pipeline.processor.STATE_FORMAT`; checkpoints from before it was recorded read
    1); a worker configured otherwise, or whose code lays state out differently, does not load it.
    """

    system: str
    shard: int
    positions: dict[str, int]
    state: Any
    strategy: str
    targets: tuple[str, ...]
    written_at: float
    state_format: int = 1


def seal(checkpoint: Checkpoint, key: bytes) -> bytes:
    """Serialize and sign a checkpoint: :func:`sign` of :func:`freeze`.

    >>> blob = seal(Checkpoint("a", 0, {"t": 5}, [1, 2], "naive", ("runtime_s",), 0.0), b"k")
    >>> unseal(blob, b"k").positions
    {'t': 5}
    >>> unseal(blob, b"other key")
    Traceback (most recent call last):
    ...
    pipeline.service.checkpoint.ForgedCheckpoint: signature mismatch: not written with this key
    """
    return sign(freeze(checkpoint), key)


def freeze(checkpoint: Checkpoint) -> bytes:
    """The checkpoint pickled: the part of sealing that must see the state before it learns more."""
    collecting = gc.isenabled()
    gc.disable()  # pickling allocates; a collection it triggers would scan the whole learned state
    try:
        return pickle.dumps(checkpoint, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        if collecting:
            gc.enable()


def sign(frozen: bytes, key: bytes) -> bytes:
    """A frozen checkpoint compressed and signed. zlib and hashlib let other threads run meanwhile, so
    a worker does this off its event loop (a quarter of the time sealing SDSC-SP2's state takes)."""
    body = zlib.compress(frozen, 1)
    return MAGIC + hmac.new(key, MAGIC + body, hashlib.sha256).digest() + body


def unseal(blob: bytes, key: bytes, previous: Sequence[bytes] = ()) -> Checkpoint:
    """Check the signature, then load; raise :class:`ForgedCheckpoint` without unpickling if it fails.

    ``previous`` keys are accepted too, so that a key can be rotated without losing state: checkpoints
    written with the old key still load until each system has been checkpointed with the new one.

    >>> old = seal(Checkpoint("a", 0, {"t": 5}, [1], "naive", ("runtime_s",), 0.0), b"old key")
    >>> unseal(old, b"new key", previous=[b"old key"]).system
    'a'
    """
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + _MAC_SIZE:
        raise ForgedCheckpoint("not a perfstream checkpoint (bad header)")
    mac, body = blob[len(MAGIC):len(MAGIC) + _MAC_SIZE], blob[len(MAGIC) + _MAC_SIZE:]
    if not any(hmac.compare_digest(mac, hmac.new(k, MAGIC + body, hashlib.sha256).digest()) for k in (key, *previous)):
        raise ForgedCheckpoint("signature mismatch: not written with this key")
    checkpoint = pickle.loads(zlib.decompress(body))
    if not isinstance(checkpoint, Checkpoint):
        raise ForgedCheckpoint(f"signed payload is a {type(checkpoint).__name__}, not a Checkpoint")
    return checkpoint
