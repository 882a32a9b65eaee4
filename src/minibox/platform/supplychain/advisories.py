"""Advisories in OSV format (https://ossf.github.io/osv-schema/), read from a file the operator
imports offline, and matched against the npm packages of a version. Pure functions: no database."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

import semver
from cvss import CVSS3, CVSS4
from cvss.exceptions import CVSSError

ECOSYSTEM = "npm"
#: Largest feed accepted (OSV's whole npm export is ~100 MB zipped; operators import what they need).
MAX_FEED_BYTES = 200 * 1024 * 1024
MAX_ADVISORIES = 200_000
#: Largest single advisory kept.
MAX_ADVISORY_BYTES = 256 * 1024
SEVERITIES = ("critical", "high", "moderate", "low", "unknown")


class FeedError(ValueError):
    """The feed cannot be read: not JSON / JSON lines / a zip of JSON files, or too large."""


@dataclass(frozen=True)
class Advisory:
    osv_id: str
    modified: str
    summary: str
    severity: str
    packages: tuple[str, ...]
    data: dict[str, Any]

    @property
    def aliases(self) -> list[str]:
        return [a for a in self.data.get("aliases", []) if isinstance(a, str)][:20]


def read_feed(data: bytes) -> list[dict[str, Any]]:
    """OSV records from a JSON object, a JSON array, JSON lines, or a zip of `.json` files."""
    if len(data) > MAX_FEED_BYTES:
        raise FeedError(f"feed larger than {MAX_FEED_BYTES} bytes")
    records: list[Any] = []
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                total = 0
                for info in zf.infolist():
                    if info.is_dir() or not info.filename.endswith(".json"):
                        continue
                    total += info.file_size
                    if total > MAX_FEED_BYTES or len(records) >= MAX_ADVISORIES:
                        raise FeedError("feed expands beyond the size limit")
                    records.append(_loads(zf.read(info), info.filename))
        except (zipfile.BadZipFile, OSError) as exc:
            raise FeedError(f"not a readable zip: {exc}") from None
        return [r for r in records if isinstance(r, dict)]
    text = data.decode("utf-8-sig", errors="strict") if data else ""
    stripped = text.lstrip()
    if stripped.startswith("[") or stripped.startswith("{"):
        try:
            doc = json.loads(text)
            return [r for r in (doc if isinstance(doc, list) else [doc]) if isinstance(r, dict)]
        except json.JSONDecodeError:
            pass  # maybe JSON lines
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            records.append(_loads(line.encode(), f"line {n}"))
    if not records:
        raise FeedError("the feed holds no advisories")
    return [r for r in records if isinstance(r, dict)]


def _loads(raw: bytes, where: str) -> Any:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FeedError(f"{where}: not JSON ({exc})") from None


def parse(record: dict[str, Any]) -> Advisory | None:
    """The npm part of one OSV record, or None (another ecosystem, withdrawn, or malformed)."""
    osv_id = record.get("id")
    if not isinstance(osv_id, str) or not 0 < len(osv_id) <= 128 or record.get("withdrawn"):
        return None
    names = []
    for aff in record.get("affected") or []:
        pkg = aff.get("package") if isinstance(aff, dict) else None
        if isinstance(pkg, dict) and pkg.get("ecosystem") == ECOSYSTEM and isinstance(pkg.get("name"), str):
            names.append(pkg["name"][:214])
    if not names:
        return None
    if len(json.dumps(record)) > MAX_ADVISORY_BYTES:
        return None
    summary = record.get("summary") or record.get("details") or ""
    return Advisory(osv_id, str(record.get("modified") or "")[:40], str(summary)[:500], severity_of(record),
                    tuple(dict.fromkeys(names)), record)


def severity_of(record: dict[str, Any]) -> str:
    """critical | high | moderate | low | unknown: the feed's own rating, else the CVSS base score."""
    db = record.get("database_specific")
    if isinstance(db, dict) and isinstance(db.get("severity"), str):
        s = db["severity"].lower()
        s = {"medium": "moderate"}.get(s, s)
        if s in SEVERITIES:
            return s
    best = None
    for entry in record.get("severity") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("score"), str):
            continue
        try:
            if entry.get("type") == "CVSS_V3":
                score = float(CVSS3(entry["score"]).base_score)
            elif entry.get("type") == "CVSS_V4":
                score = float(CVSS4(entry["score"]).base_score)
            else:
                continue
        except (CVSSError, ValueError, KeyError, TypeError):
            continue
        best = score if best is None else max(best, score)
    if best is None:
        return "unknown"
    if best >= 9.0:
        return "critical"
    if best >= 7.0:
        return "high"
    if best >= 4.0:
        return "moderate"
    return "low" if best > 0 else "unknown"


def _semver(text: str) -> semver.Version | None:
    text = text.strip().removeprefix("v").removeprefix("=")
    try:
        return semver.Version.parse(text)
    except (ValueError, TypeError):
        return None


def affects(adv: Advisory, name: str, version: str) -> bool:
    """Whether `name@version` is in an affected range (SEMVER or ECOSYSTEM events) or listed."""
    v = _semver(version)
    for aff in adv.data.get("affected") or []:
        if not isinstance(aff, dict):
            continue
        pkg = aff.get("package") or {}
        if pkg.get("ecosystem") != ECOSYSTEM or pkg.get("name") != name:
            continue
        listed = aff.get("versions")
        if isinstance(listed, list) and version in listed:
            return True
        if v is None:
            continue
        for rng in aff.get("ranges") or []:
            if isinstance(rng, dict) and rng.get("type") in ("SEMVER", "ECOSYSTEM") and _in_range(v, rng):
                return True
    return False


def _in_range(v: semver.Version, rng: dict[str, Any]) -> bool:
    """OSV's evaluation: walk the events in version order; the last one at or below v decides."""
    events: list[tuple[semver.Version, int, str]] = []
    for ev in rng.get("events") or []:
        if not isinstance(ev, dict) or len(ev) != 1:
            continue
        kind, raw = next(iter(ev.items()))
        if kind not in ("introduced", "fixed", "last_affected") or not isinstance(raw, str):
            continue
        at = semver.Version(0) if kind == "introduced" and raw == "0" else _semver(raw)
        if at is None:
            continue
        events.append((at, {"introduced": 0, "fixed": 1, "last_affected": 2}[kind], kind))
    affected = False
    for at, _order, kind in sorted(events, key=lambda e: (e[0], e[1])):
        if kind == "introduced" and v >= at:
            affected = True
        elif (kind == "fixed" and v >= at) or (kind == "last_affected" and v > at):
            affected = False
    return affected


def fixed_versions(adv: Advisory, name: str) -> list[str]:
    out = []
    for aff in adv.data.get("affected") or []:
        if isinstance(aff, dict) and (aff.get("package") or {}).get("name") == name:
            for rng in aff.get("ranges") or []:
                for ev in (rng or {}).get("events") or []:
                    if isinstance(ev, dict) and isinstance(ev.get("fixed"), str):
                        out.append(ev["fixed"])
    return out
