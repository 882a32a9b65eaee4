"""Grayscale rules (MGT-07): a stable bucket per user, a distribution near the percentage, filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minibox.platform.release.grayscale import BUCKETS, InvalidRule, bucket, matches, validate_rules

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def m(rules: dict, user: str = "u1", host: str = "h1", region: str | None = None, tags: set[str] | None = None,
      now: datetime = NOW) -> bool:
    return matches(validate_rules(rules), salt="s", app_id="a", host_id=host, user_id=user, region=region,
                   tags=tags or set(), now=now)


@given(st.text(min_size=1, max_size=40))
@settings(max_examples=200, deadline=None)
def test_bucket_is_stable_and_in_range(user: str) -> None:
    b = bucket("salt", "app", user)
    assert b == bucket("salt", "app", user) and 0 <= b < BUCKETS


@pytest.mark.parametrize("pct", [1, 10, 50])
def test_percentage_distribution(pct: int) -> None:
    n = 20_000
    inside = sum(m({"percentage": pct}, user=f"user-{i}") for i in range(n))
    assert abs(inside / n - pct / 100) < 0.01


def test_widening_keeps_users_in() -> None:
    small = {f"u{i}" for i in range(5000) if m({"percentage": 1}, user=f"u{i}")}
    wide = {f"u{i}" for i in range(5000) if m({"percentage": 10}, user=f"u{i}")}
    assert small and small <= wide


def test_salt_and_app_change_the_bucket() -> None:
    users = [f"u{i}" for i in range(200)]
    assert [bucket("s1", "a", u) for u in users] != [bucket("s2", "a", u) for u in users]
    assert [bucket("s1", "a", u) for u in users] != [bucket("s1", "b", u) for u in users]


def test_filters() -> None:
    assert m({"users": ["u1"]}) and not m({"users": ["u2"]})
    assert m({"users": ["u2"], "percentage": 100})
    assert not m({"percentage": 100}, user="")  # no user id, no bucket
    assert m({"hosts": ["h1"]}) and not m({"hosts": ["h2"]})
    assert m({"regions": ["cn-east"]}, region="cn-east") and not m({"regions": ["cn-east"]}, region=None)
    assert m({"tags": ["beta", "staff"]}, tags={"staff"}) and not m({"tags": ["beta"]}, tags={"x"})
    window = {"start": (NOW - timedelta(hours=1)).isoformat(), "end": (NOW + timedelta(hours=1)).isoformat()}
    assert m(window) and not m(window, now=NOW + timedelta(hours=2)) and not m(window, now=NOW - timedelta(hours=2))
    assert not m({"users": ["u1"], "regions": ["cn-east"]}, region="cn-west")


@pytest.mark.parametrize("rules", [
    {}, {"percentage": 101}, {"percentage": -1}, {"percentage": True}, {"users": ["bad user"]},
    {"start": "2026-01-01T00:00:00"}, {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
    {"appId": "*"}, {"users": "u1"},
])
def test_invalid_rules(rules: dict) -> None:
    with pytest.raises(InvalidRule):
        validate_rules(rules)
