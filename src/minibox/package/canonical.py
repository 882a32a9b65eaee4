"""Canonical JSON for signed metadata, and a strict parser for everything read back.

The signature covers the exact bytes of the manifest; the parser refuses anything a second
serialiser could read differently (PKG-11): duplicate keys, NaN/Infinity, non-UTF-8, a BOM,
deep nesting, oversize input. `loads_canonical` additionally requires that the bytes are the
canonical form, so one manifest has exactly one byte representation.
"""

from __future__ import annotations

import json
from typing import Any

from minibox.package.errors import FormatError

#: Largest metadata document we parse (manifest, key set, trusted state).
MAX_METADATA_BYTES = 4 * 1024 * 1024
#: Deepest nesting of arrays/objects accepted in metadata.
MAX_DEPTH = 32


def dumps(obj: Any) -> bytes:
    """The canonical encoding: sorted keys, no spaces, UTF-8, finite numbers only."""
    try:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise FormatError("json-surrogate", repr(exc.object[exc.start : exc.end]), "lone surrogate in a string") from None
    except ValueError as exc:
        raise FormatError("json-non-finite", None, str(exc)) from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise FormatError("json-duplicate-key", key, "duplicate key in metadata")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise FormatError("json-non-finite", name, "NaN/Infinity are not allowed")


def _check_floats(obj: Any, what: str) -> None:
    if isinstance(obj, float):
        raise FormatError("json-float", what, "metadata numbers must be integers")
    if isinstance(obj, dict):
        for value in obj.values():
            _check_floats(value, what)
    elif isinstance(obj, list):
        for value in obj:
            _check_floats(value, what)


def loads(data: bytes, *, what: str = "metadata", max_bytes: int = MAX_METADATA_BYTES,
          integers_only: bool = True) -> Any:
    """Parse metadata strictly; raise :class:`FormatError` naming `what`."""
    if len(data) > max_bytes:
        raise FormatError("json-too-large", what, f"{len(data)} bytes > {max_bytes}")
    if data.startswith(b"\xef\xbb\xbf"):
        raise FormatError("json-bom", what, "byte order mark not allowed")
    # Cheap pre-check so a 10k-deep nesting never reaches the recursive parser.
    depth = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > MAX_DEPTH:
                raise FormatError("json-too-deep", what, f"nesting deeper than {MAX_DEPTH}")
        elif byte in (0x5D, 0x7D):
            depth -= 1
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError("json-not-utf8", what, str(exc)) from None
    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except FormatError as exc:
        raise type(exc)(exc.rule, f"{what}: {exc.entry}", exc.detail) from None
    except (ValueError, RecursionError) as exc:
        raise FormatError("json-syntax", what, str(exc)) from None
    if integers_only:
        _check_floats(obj, what)
    return obj


def loads_canonical(data: bytes, *, what: str = "metadata") -> Any:
    """Parse strictly and require the bytes to be the canonical encoding."""
    obj = loads(data, what=what)
    if dumps(obj) != data:
        raise FormatError("json-not-canonical", what, "metadata is not in canonical form")
    return obj
