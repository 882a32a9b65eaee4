"""Disputes: every step of a payment (risk decision, confirmation, settlement) reaches the platform
as a transaction record; an operator looks the payment up by its order id and exports it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from minibox.host import Host, HostConfig
from minibox.testing import launch
from tests.platform.conftest import auth
from tests.platform.test_telemetry import APP, Env, make_env, write_project
from tests.runtime.test_payment import KEY, PAGE, params, pay


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    yield from make_env(tmp_path, None)


def test_a_payment_is_looked_up_by_order_id_and_exported(env: Env, tmp_path: Path) -> None:
    host = Host(HostConfig(data_dir=tmp_path / "host", host_id=env.host_id,
                           telemetry=env.telemetry_config(flush_interval_s=3600)))
    host.payment.register_merchant(APP, KEY.public_key())
    project = write_project(tmp_path / "app", {
        "app.json": json.dumps({"pages": ["pages/p/p"]}), "app.js": "App({})",
        "pages/p/p.wxml": "<view/>", "pages/p/p.js": PAGE})
    try:
        order = host.payment.create_order(APP, "alice", 1999, "Dumplings")
        with launch(project, host=host, app_id=APP, user="alice") as mp:
            pay(mp, params(order.prepay_id, app=APP))
            mp.wait_idle()
            host.payment.pending[-1].confirm()
            mp.wait_idle()
            assert mp.current_page.data["out"] == ["requestPayment:ok"]
        host.telemetry.flush()
        host.telemetry.upload()
    finally:
        host.close()

    url = f"/api/v1/payments/{order.prepay_id}"
    r = env.client.get(url, headers=auth(env.tenant, "operator"))
    assert r.status_code == 200, r.text
    record = r.json()
    assert record["app_id"] == APP and record["host_id"] == env.host_id and "alice" not in r.text
    steps = [s["step"] for s in record["steps"]]
    assert steps == ["risk", "confirmation", "settled"]
    assert record["steps"][0]["outcome"] == "allow" and record["steps"][0]["amount_fen"] == 1999
    assert record["steps"][-1]["paid"] is True
    dl = env.client.get(url, params={"download": "true"}, headers=auth(env.tenant, "admin"))
    assert dl.status_code == 200 and "attachment" in dl.headers["content-disposition"]
    assert env.client.get(url, headers=auth(env.tenant, "developer")).status_code == 403
    assert env.client.get("/api/v1/payments/wxnosuchorder", headers=auth(env.tenant, "operator")).status_code == 404
