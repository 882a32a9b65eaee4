"""Grayscale rules: who gets a gray release. Evaluated server-side on attributes the host authenticates.

A rule matches when every filter it sets holds (host, region, tags, time window) and, if it names
users or a percentage, the user is listed or falls in the percentage. The percentage uses a stable
bucket: SHA-256(app salt, app id, user id) mod 10000, so a user's bucket never changes and widening
1% -> 10% keeps the first 1% in (MGT-07).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from minibox.platform.errors import InvalidInput

BUCKETS = 10_000
MAX_USERS = 10_000
MAX_VALUES = 200
_VALUE = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
RULE_KEYS = ("percentage", "users", "hosts", "regions", "tags", "start", "end")


class InvalidRule(InvalidInput):
    code = "invalid_rule"


def _values(raw: Any, key: str, limit: int) -> list[str]:
    if not isinstance(raw, list) or len(raw) > limit:
        raise InvalidRule(f"{key}: a list of at most {limit} values", details={"field": key})
    for v in raw:
        if not isinstance(v, str) or not _VALUE.match(v):
            raise InvalidRule(f"{key}: {str(v)[:40]!r} is not a valid value", details={"field": key})
    return sorted(set(raw))


def _time(raw: Any, key: str) -> str:
    try:
        dt = datetime.fromisoformat(str(raw))
    except ValueError as e:
        raise InvalidRule(f"{key}: ISO 8601 date-time expected", details={"field": key}) from e
    if dt.tzinfo is None:
        raise InvalidRule(f"{key}: give a time zone (e.g. Z or +08:00)", details={"field": key})
    return dt.isoformat()


def validate_rules(raw: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(raw) - set(RULE_KEYS))
    if unknown:
        raise InvalidRule(f"unknown rule fields {unknown}", details={"fields": unknown})
    out: dict[str, Any] = {}
    if raw.get("percentage") is not None:
        pct = raw["percentage"]
        if isinstance(pct, bool) or not isinstance(pct, int | float) or not 0 <= pct <= 100:
            raise InvalidRule("percentage: a number from 0 to 100", details={"field": "percentage"})
        out["percentage"] = round(float(pct), 2)
    for key, limit in (("users", MAX_USERS), ("hosts", MAX_VALUES), ("regions", MAX_VALUES), ("tags", MAX_VALUES)):
        if raw.get(key):
            out[key] = _values(raw[key], key, limit)
    for key in ("start", "end"):
        if raw.get(key):
            out[key] = _time(raw[key], key)
    if "start" in out and "end" in out and out["start"] >= out["end"]:
        raise InvalidRule("start must be before end", details={"field": "end"})
    if not out:
        raise InvalidRule("a grayscale rule needs at least one condition")
    return out


def bucket(salt: str, app_id: str, user_id: str) -> int:
    digest = hashlib.sha256(f"{salt}\x00{app_id}\x00{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def matches(rules: dict[str, Any], *, salt: str, app_id: str, host_id: str, user_id: str, region: str | None,
            tags: set[str], now: datetime) -> bool:
    if "hosts" in rules and host_id not in rules["hosts"]:
        return False
    if "regions" in rules and region not in rules["regions"]:
        return False
    if "tags" in rules and not tags.intersection(rules["tags"]):
        return False
    if "start" in rules and now < datetime.fromisoformat(rules["start"]):
        return False
    if "end" in rules and now >= datetime.fromisoformat(rules["end"]):
        return False
    if "users" not in rules and "percentage" not in rules:
        return True
    if user_id and user_id in rules.get("users", ()):
        return True
    pct = rules.get("percentage")
    return bool(pct) and bool(user_id) and bucket(salt, app_id, user_id) < pct * BUCKETS / 100
