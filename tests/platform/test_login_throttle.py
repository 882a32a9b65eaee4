"""Password spraying: failed logins from one address are capped across usernames (MGT-01)."""

from __future__ import annotations

import httpx

from minibox.platform.accounts.service import MAX_FAILED_PER_CLIENT
from minibox.platform.context import Platform

from .conftest import PASSWORD, seed_tenant


def test_one_client_cannot_spray_passwords(platform: Platform, client: httpx.Client) -> None:
    seed_tenant(platform, "Spray")
    for i in range(MAX_FAILED_PER_CLIENT):
        r = client.post("/api/v1/auth/login", json={"username": f"guess{i}", "password": "Spring2026!"})
        assert r.status_code == 401
    # now even the right password from this address waits for the window to pass
    r = client.post("/api/v1/auth/login", json={"username": "spray-developer", "password": PASSWORD})
    assert r.status_code == 429 and r.json()["code"] == "login_throttled"
    assert r.json()["details"]["retry_after"] > 0
