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


class Rule:
    """A validated rule prepared for evaluation: sets for membership, parsed times (the update check's
    in-memory snapshot holds these, so a user list of 10,000 is one hash lookup)."""

    __slots__ = ("end", "hosts", "percentage", "regions", "start", "tags", "users")

    def __init__(self, rules: dict[str, Any]):
        self.hosts = frozenset(rules["hosts"]) if "hosts" in rules else None
        self.regions = frozenset(rules["regions"]) if "regions" in rules else None
        self.tags = frozenset(rules["tags"]) if "tags" in rules else None
        self.start = datetime.fromisoformat(rules["start"]) if "start" in rules else None
        self.end = datetime.fromisoformat(rules["end"]) if "end" in rules else None
        self.users = frozenset(rules.get("users", ()))
        self.percentage = rules.get("percentage")
        if "users" not in rules and "percentage" not in rules:
            self.percentage = -1.0  # no user condition: every user who passes the filters

    def matches(self, *, salt: str, app_id: str, host_id: str, user_id: str, region: str | None,
                tags: set[str] | frozenset[str], now: datetime) -> bool:
        if self.hosts is not None and host_id not in self.hosts:
            return False
        if self.regions is not None and region not in self.regions:
            return False
        if self.tags is not None and self.tags.isdisjoint(tags):
            return False
        if self.start is not None and now < self.start:
            return False
        if self.end is not None and now >= self.end:
            return False
        pct = self.percentage
        if pct == -1.0:
            return True
        if user_id and user_id in self.users:
            return True
        return bool(pct) and bool(user_id) and bucket(salt, app_id, user_id) < pct * BUCKETS / 100


def matches(rules: dict[str, Any], *, salt: str, app_id: str, host_id: str, user_id: str, region: str | None,
            tags: set[str], now: datetime) -> bool:
    return Rule(rules).matches(salt=salt, app_id=app_id, host_id=host_id, user_id=user_id, region=region,
                               tags=tags, now=now)
