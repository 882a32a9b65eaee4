"""Framing between the host and a worker: a 4-byte big-endian length, then UTF-8 JSON.

Both sides check a frame's size and its JSON nesting *before* parsing it (`check_json`), so no
message either side can build makes the other side's parser recurse or allocate without bound.
Strings may carry lone surrogates (JS strings can): they travel as WTF-8 (`surrogatepass`).
"""

from __future__ import annotations

import json
import re
import struct
from typing import Any, BinaryIO

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
#: bytes.translate tables: keep only brackets, with {} folded onto [].
_BRACKETS_ONLY = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(i for i in range(256) if i not in b"[]{}")
#: Runs of opening or of closing brackets.
_RUNS = re.compile(rb"\[+|\]+")
#: With more runs than this, cheap passes (bytes.replace) first remove innermost levels.
_MANY_RUNS = 10_000
_PASSES = 8


class FrameError(Exception):
    """A frame is truncated, oversized, too deep or not JSON."""


def json_depth_exceeds(text: str | bytes, max_depth: int) -> bool:
    """True when `text` (JSON) nests arrays/objects deeper than `max_depth`; never parses it.

    Linear in the size of `text` and mostly C-speed: a fast exit when there are too few brackets
    to go that deep; otherwise strings are cut out (escapes first, then split on quotes), the
    brackets kept and counted by runs (after a few cheap passes that remove innermost levels
    when there are many short runs).
    """
    data = text if isinstance(text, bytes | bytearray) else text.encode("utf-8", "surrogatepass")
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return False
    outside = b"".join(bytes(data).replace(b"\\\\", b"").replace(b'\\"', b"").split(b'"')[::2])
    skel = outside.translate(_BRACKETS_ONLY, _NOT_BRACKETS)
    runs = _RUNS.findall(skel)
    removed = 0
    if len(runs) > _MANY_RUNS:
        # each pass removes every innermost container, so the nesting drops by exactly one level
        while removed < _PASSES and skel:
            shorter = skel.replace(b"[]", b"")
            if len(shorter) == len(skel):
                break  # not balanced: count what is left
            skel, removed = shorter, removed + 1
        runs = _RUNS.findall(skel)
    depth = removed
    for run in runs:
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
    try:
        text = body.decode("utf-8", "surrogatepass") if isinstance(body, bytes | bytearray) else body
        return json.loads(text)
    except (ValueError, RecursionError, MemoryError) as exc:
        raise FrameError(f"frame is not JSON: {exc}") from None


def encode(message: Any) -> bytes:
    try:
        body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")
    except (ValueError, TypeError, RecursionError) as exc:
        raise FrameError(f"message cannot be encoded: {exc}") from None
    if len(body) > MAX_FRAME_BYTES:
        raise FrameError(f"frame of {len(body)} bytes exceeds {MAX_FRAME_BYTES}")
    if json_depth_exceeds(body, MAX_FRAME_DEPTH):
        raise FrameError(f"message nested deeper than {MAX_FRAME_DEPTH} levels")
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
    (size,) = _HEADER.unpack(_read_exact(stream, _HEADER.size))
    if size > MAX_FRAME_BYTES:
        raise FrameError(f"frame of {size} bytes exceeds {MAX_FRAME_BYTES}")
    return loads(_read_exact(stream, size))
