"""A deletion order reaches telemetry too: the host drops the user's unsent events and names its
pseudonym in the acknowledgement; the platform deletes the raw events stored under it (it could not
find them otherwise) and leaves everyone else's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from minibox.host import Host, HostConfig
from minibox.host.update import Updater
from minibox.platform.context import Ctx
from minibox.platform.privacy import service as privacy
from minibox.platform.telemetry.models import TelemetryEvent
from minibox.testing import launch
from tests.platform.test_telemetry import APP, Env, make_env, write_project


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    yield from make_env(tmp_path, None)


def users_stored(env: Env) -> dict[str, int]:
    with env.platform.db.read() as s:
        rows = s.execute(select(TelemetryEvent.user, func.count()).group_by(TelemetryEvent.user)).all()
    return {u: n for u, n in rows}


def test_deletion_order_removes_the_users_telemetry(env: Env, tmp_path: Path) -> None:
    host = Host(HostConfig(data_dir=tmp_path / "host", host_id=env.host_id,
                           telemetry=env.telemetry_config(flush_interval_s=3600)))
    project = write_project(tmp_path / "app")
    try:
        for user in ("alice", "bob"):
            with launch(project, host=host, app_id=APP, user=user) as mp:
                mp.wait_idle()
        host.telemetry.flush()
        host.telemetry.upload()
        stored = users_stored(env)
        assert len(stored) == 2  # two pseudonyms, neither of them a user id
        with launch(project, host=host, app_id=APP, user="alice") as mp:  # more, spooled, not sent
            mp.wait_idle()
        host.telemetry.flush()
        alice = host.telemetry.pseudonym(APP, "alice")
        assert any(alice in body.decode() for _id, body in host.telemetry.spool.unsent())

        with env.platform.db.write() as s:
            privacy.order_deletion(Ctx(s, env.platform, env.tenant.users["admin"]), "alice", APP, "user asked")
        with Updater(env.server.url, env.host_id, env.api_key, env.trust, tmp_path / "cache", env.host_key) as up:
            [done] = host.user_data.carry_out_orders(up, "alice")
        assert done["apps"] == 1
        assert not any(alice in body.decode() for _id, body in host.telemetry.spool.unsent())
        after = users_stored(env)
        assert len(after) == 1 and set(after) < set(stored)  # bob's events are all still there
        with env.platform.db.read() as s:
            [order] = privacy.list_orders(Ctx(s, env.platform, env.tenant.users["admin"]))
        assert order["acks"][0]["counts"]["telemetry_events"] == sum(stored.values()) - sum(after.values())
        assert "alice" not in json.dumps(order["acks"])
    finally:
        host.close()
