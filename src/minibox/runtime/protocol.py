"""Framing between the host and a worker: a 4-byte big-endian length, then UTF-8 JSON.

Both sides check a frame's size and its JSON nesting *before* parsing it (`check_json`), so no
message either side can build makes the other side's parser recurse or allocate without bound.
Strings may carry lone surrogates (JS strings can): they travel as WTF-8 (`surrogatepass`).
"""

from __future__ import annotations

import contextlib
import gc
import json
import re
import struct
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

#: Largest frame either side accepts; a larger one is a protocol violation.
MAX_FRAME_BYTES = 64 * 1024 * 1024
#: Deepest JSON nesting a frame may have (Python's decoder recurses once per level).
MAX_FRAME_DEPTH = 512
#: Largest wx API call (the JSON text of {"api", "args"}, in UTF-16 code units as JS counts them).
#: 16 M units is at most 48 MB of UTF-8: an ArrayBuffer of 12 MB, base64-encoded, fits.
MAX_CALL_CHARS = 16 * 1024 * 1024
#: Deepest nesting of a wx API call's JSON text ({"api", "args": {...}} counts 2 levels).
MAX_CALL_DEPTH = 300

_HEADER = struct.Struct(">I")
#: The key of a host command's raw bytes (`encode`, `read_frame`).
BLOBS = "blobs"
#: bytes.translate tables: keep only quotes and brackets, with {} folded onto [].
_FOLD_BRACES = bytes.maketrans(b"{}", b"[]")
_NOT_SKELETON = bytes(i for i in range(256) if i not in b'"[]{}')
#: Runs of opening or of closing brackets.
_RUNS = re.compile(rb"\[+|\]+")


class FrameError(Exception):
    """A frame is truncated, oversized, too deep or not JSON."""


def json_depth_exceeds(text: str | bytes, max_depth: int) -> bool:
    """True when `text` (JSON) nests arrays/objects deeper than `max_depth`; never parses it.

    Linear in the size of `text` and C-speed but for a count of what is left at the end: a fast
    exit when there are too few brackets to go that deep; escapes out, then only quotes and
    brackets kept; strings cut out; then passes that each remove the innermost level (while they
    remove much), and the rest counted by runs.
    """
    data = text if isinstance(text, bytes | bytearray) else text.encode("utf-8", "surrogatepass")
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return False
    if b"\\" in data:  # escaped backslashes and quotes out: every quote left delimits a string
        data = bytes(data).replace(b"\\\\", b"").replace(b'\\"', b"")
    skel = data.translate(_FOLD_BRACES, _NOT_SKELETON)
    # a string without brackets is two adjacent quotes now; taking out such pairs leaves every
    # other quote's parity as it was, so what lies between the quotes left is still string
    skel = skel.replace(b'""', b"")
    if b'"' in skel:
        skel = b"".join(skel.split(b'"')[::2])
    removed = 0
    while skel:
        shorter = skel.replace(b"[]", b"")  # every innermost container: one level less
        if len(shorter) == len(skel):
            break  # not balanced: count what is left
        skel, before, removed = shorter, len(skel), removed + 1
        if removed > max_depth:
            return True
        if len(shorter) * 8 > before * 7:
            break  # passes that remove little would cost more than counting the runs left
    depth = removed
    for run in _RUNS.findall(skel):
        if run[:1] == b"[":
            depth += len(run)
            if depth > max_depth:
                return True
        else:
            depth -= len(run)
    return depth > max_depth


def check_json(text: str | bytes, *, max_size: int, max_depth: int) -> str | None:
    """Why `text` may not be parsed (size or depth), or None when it may."""
    if len(text) > max_size:
        return f"message of {len(text)} exceeds the limit of {max_size}"
    if json_depth_exceeds(text, max_depth):
        return f"message nested deeper than {max_depth} levels"
    return None


def loads(body: bytes | str, *, max_size: int = MAX_FRAME_BYTES, max_depth: int = MAX_FRAME_DEPTH) -> Any:
    """Parse one message after checking its size and depth; raises `FrameError`."""
    why = check_json(body, max_size=max_size, max_depth=max_depth)
    if why is not None:
        raise FrameError(why)
    return parse(body)


def parse(body: bytes | str) -> Any:
    """Parse JSON already checked by `check_json`: orjson (a few times faster), and the standard
    parser for what orjson refuses (lone surrogates, escaped or in WTF-8, NaN; or not JSON).
    orjson reads an integer past 64 bits as a float: the number the sandbox's JS had."""
    with gc_paused():
        try:
            return orjson.loads(body)
        except (orjson.JSONDecodeError, MemoryError):
            pass
        try:
            text = body.decode("utf-8", "surrogatepass") if isinstance(body, bytes | bytearray) else body
            return json.loads(text)
        except (ValueError, RecursionError, MemoryError) as exc:
            raise FrameError(f"frame is not JSON: {exc}") from None


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection in the block: parsing a frame and applying its patches make a
    great many containers that all live on (or all die at once), and the collector's passes over
    the whole heap meanwhile (a full one every few thousand new objects) cost more than the work
    (3x for a 10,000-row first fill). The block is short; what it made is collected after."""
    if not gc.isenabled():  # off already (by the application, or an enclosing block)
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def frame(body: bytes) -> bytes:
    """A frame around a JSON body already checked for size and depth."""
    if len(body) > MAX_FRAME_BYTES:
        raise FrameError(f"frame of {len(body)} bytes exceeds {MAX_FRAME_BYTES}")
    return _HEADER.pack(len(body)) + body


def encode(message: Any) -> bytes:
    """A frame of `message`. A host command may carry raw bytes (a bundle's source texts) as
    `message[BLOBS]`, a list of bytes: they follow the JSON after a NUL byte (which JSON text never
    holds), never encoded, escaped or depth-checked, and the JSON lists their sizes (`read_frame`)."""
    blobs = message.get(BLOBS) if isinstance(message, dict) else None
    if blobs is not None:
        if not isinstance(blobs, list) or not all(isinstance(b, bytes | bytearray) for b in blobs):
            raise FrameError(f"{BLOBS} must be a list of bytes")
        message = {**message, BLOBS: [len(b) for b in blobs]}
    try:
        body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")
    except (ValueError, TypeError, RecursionError) as exc:
        raise FrameError(f"message cannot be encoded: {exc}") from None
    if json_depth_exceeds(body, MAX_FRAME_DEPTH):
        raise FrameError(f"message nested deeper than {MAX_FRAME_DEPTH} levels")
    if blobs is not None:
        body = b"".join((body, b"\0", *blobs))
    if len(body) > MAX_FRAME_BYTES:
        raise FrameError(f"frame of {len(body)} bytes exceeds {MAX_FRAME_BYTES}")
    return _HEADER.pack(len(body)) + body


def write_frame(stream: BinaryIO, message: Any) -> None:
    stream.write(encode(message))
    stream.flush()


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    chunks = []
    remaining = size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            raise EOFError("stream closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(stream: BinaryIO) -> Any:
    """The next frame from the host (the worker's reader: only host frames may carry blobs)."""
    (size,) = _HEADER.unpack(_read_exact(stream, _HEADER.size))
    if size > MAX_FRAME_BYTES:
        raise FrameError(f"frame of {size} bytes exceeds {MAX_FRAME_BYTES}")
    body = _read_exact(stream, size)
    nul = body.find(b"\0")
    if nul < 0:
        return loads(body)
    message = loads(body[:nul])
    sizes = message.get(BLOBS) if isinstance(message, dict) else None
    if (not isinstance(sizes, list) or not all(type(n) is int and n >= 0 for n in sizes)
            or sum(sizes) != size - nul - 1):
        raise FrameError("raw bytes after a frame that does not list them")
    blobs, at = [], nul + 1
    for n in sizes:
        blobs.append(body[at : at + n])
        at += n
    message[BLOBS] = blobs
    return message
