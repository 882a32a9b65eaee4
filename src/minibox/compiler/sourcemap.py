"""Source maps (revision 3): the `mappings` VLQ codec and position lookup, for code protection.

A map's `mappings` is one group per generated line, separated by `;`; a group is `,`-separated segments
of 1, 4 or 5 base64 VLQ fields: generated column, then source index, source line, source column
(and name index), each relative to the previous segment's (the generated column only within its line).
Positions here are 0-based as in the format; callers convert from the 1-based `file:line:col` of
stack frames.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_VALUE = {c: i for i, c in enumerate(_B64)}
#: A segment: generated column, and when mapped: source index, source line, source column[, name index].
Segment = tuple[int, ...]


class SourceMapError(ValueError):
    """A source map that is not well-formed revision 3."""


def _vlq_fields(group: str) -> list[int]:
    values: list[int] = []
    value = shift = 0
    for ch in group:
        digit = _B64_VALUE.get(ch)
        if digit is None:
            raise SourceMapError(f"not a base64 VLQ digit: {ch!r}")
        value += (digit & 31) << shift
        if digit & 32:
            shift += 5
            if shift > 60:
                raise SourceMapError("VLQ value too large")
            continue
        values.append(-(value >> 1) if value & 1 else value >> 1)
        value = shift = 0
    if shift:
        raise SourceMapError("truncated VLQ value")
    return values


def decode_mappings(mappings: str) -> list[list[Segment]]:
    """The segments of each generated line, with absolute (not relative) values."""
    lines: list[list[Segment]] = []
    src = src_line = src_col = name = 0
    for group in mappings.split(";"):
        col = 0
        segments: list[Segment] = []
        for part in group.split(","):
            if not part:
                continue
            f = _vlq_fields(part)
            if len(f) not in (1, 4, 5):
                raise SourceMapError(f"a segment has {len(f)} fields")
            col += f[0]
            if len(f) == 1:
                segments.append((col,))
                continue
            src, src_line, src_col = src + f[1], src_line + f[2], src_col + f[3]
            if len(f) == 5:
                name += f[4]
                segments.append((col, src, src_line, src_col, name))
            else:
                segments.append((col, src, src_line, src_col))
        lines.append(segments)
    return lines


def _vlq(value: int) -> str:
    v = (-value << 1) | 1 if value < 0 else value << 1
    out = []
    while True:
        digit = v & 31
        v >>= 5
        out.append(_B64[digit | (32 if v else 0)])
        if not v:
            return "".join(out)


def encode_mappings(lines: list[list[Segment]]) -> str:
    """`decode_mappings` backwards (segments of a line in generated column order)."""
    groups = []
    src = src_line = src_col = name = 0
    for segments in lines:
        col = 0
        parts = []
        for seg in segments:
            text = _vlq(seg[0] - col)
            col = seg[0]
            if len(seg) >= 4:
                text += _vlq(seg[1] - src) + _vlq(seg[2] - src_line) + _vlq(seg[3] - src_col)
                src, src_line, src_col = seg[1], seg[2], seg[3]
                if len(seg) == 5:
                    text += _vlq(seg[4] - name)
                    name = seg[4]
            parts.append(text)
        groups.append(",".join(parts))
    return ";".join(groups)


@dataclass(frozen=True)
class Original:
    """Where a generated position came from (0-based line and column)."""

    source: str
    line: int
    column: int
    name: str | None = None


@dataclass
class SourceMap:
    """A decoded revision 3 map: `lookup` finds the original of a generated position."""

    sources: list[str]
    names: list[str]
    lines: list[list[Segment]]
    _columns: list[list[int]] = field(default_factory=list, repr=False)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> SourceMap:
        if not isinstance(doc, dict) or doc.get("version") != 3 or not isinstance(doc.get("mappings"), str):
            raise SourceMapError("not a revision 3 source map")
        sources = [str(s) for s in doc.get("sources") or []]
        names = [str(n) for n in doc.get("names") or []]
        lines = decode_mappings(doc["mappings"])
        return cls(sources, names, lines, [[seg[0] for seg in line] for line in lines])

    def lookup(self, line: int, column: int) -> Original | None:
        """The mapped segment at or before `column` on generated `line` (0-based), as source maps are
        read by browsers' devtools; None when the line has none or the segment maps nowhere."""
        if not 0 <= line < len(self.lines):
            return None
        k = bisect.bisect_right(self._columns[line], column) - 1
        if k < 0:
            return None
        seg = self.lines[line][k]
        if len(seg) < 4 or not 0 <= seg[1] < len(self.sources):
            return None
        name = self.names[seg[4]] if len(seg) == 5 and 0 <= seg[4] < len(self.names) else None
        return Original(self.sources[seg[1]], seg[2], seg[3], name)
