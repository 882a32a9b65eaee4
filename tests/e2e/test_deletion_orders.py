"""A user's data deleted across hosts on the platform's order: the admin orders it, the host's next
check brings the signed order, the host deletes storage, files and consent for that user and app,
acknowledges with counts; the audit has the order and the ack, never the data."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from minibox.host import Host, HostConfig
from minibox.host.update import Updater
from minibox.package import HostKeyPair, SigningKey, TrustStore
from minibox.package.answer import sign_answer
from minibox.package.errors import SignatureError
from minibox.platform import demo
from minibox.platform.accounts.models import User
from minibox.platform.api import create_app
from minibox.platform.audit.models import AuditEntry
from minibox.platform.context import Ctx
from minibox.platform.privacy import service as privacy
from minibox.platform.serve import BackgroundServer
from minibox.platform.server import open_platform
from minibox.platform.settings import Settings
from minibox.policy.storage import Owner
from tests.conftest import EXAMPLES


def test_ordered_deletion_reaches_the_host_once(tmp_path: Path) -> None:
    platform = open_platform(Settings.for_data_dir(tmp_path / "platform", None, secure_cookies=False))
    state = demo.seed(platform, EXAMPLES)
    app_id, registered = state.app["app_id"], state.host
    with platform.db.read() as s:
        admin = s.execute(select(User).where(User.role == "admin")).scalars().first()
        assert admin is not None
        principal = demo._principal(admin)
    with BackgroundServer(create_app(platform)) as server:
        keyset = httpx.get(f"{server.url}/api/v1/trust/keyset").content
        trust = TrustStore.create(tmp_path / "device-trust", keyset)
        host = Host(HostConfig(data_dir=tmp_path / "host", host_id=registered["host_id"]))
        owner = Owner(registered["host_id"], app_id, "customer-1")
        other = Owner(registered["host_id"], app_id, "customer-2")
        try:
            with Updater(server.url, registered["host_id"], registered["api_key"], trust, tmp_path / "cache",
                         HostKeyPair.load(Path(registered["private_key_file"]))) as updater:
                host.start_released(updater, app_id, "customer-1").close()
                host.storage.set(owner, "cart", ["tea", "cake"])
                host.storage.set(other, "cart", ["coffee"])
                assert updater.deletion_orders("customer-1") == []

                with platform.db.write() as s:
                    order = privacy.order_deletion(Ctx(s, platform, principal), "customer-1", app_id, "user asked")
                    order_id = order.id
                [pending] = updater.deletion_orders("customer-1")
                assert pending == {"id": order_id, "app_id": app_id}

                host.start_released(updater, app_id, "customer-1").close()  # the next check carries it out
                assert host.storage.info(owner)["keys"] == []
                assert host.storage.get(other, "cart") == ["coffee"]  # another user is untouched
                assert updater.deletion_orders("customer-1") == []  # acknowledged: not sent again

                # an order signed by anyone but the platform is refused, and nothing is deleted
                forged = sign_answer(SigningKey.generate(),
                                     {"kind": "deletions", "host_id": registered["host_id"], "user_id": "customer-2",
                                      "orders": [{"id": 999, "app_id": None}]})
                bad = Updater(server.url, registered["host_id"], registered["api_key"], trust, tmp_path / "cache2",
                              transport=httpx.MockTransport(lambda r: httpx.Response(200, json=forged)))
                with bad, pytest.raises(SignatureError, match="unknown key"):
                    host.user_data.carry_out_orders(bad, "customer-2")
                assert host.storage.get(other, "cart") == ["coffee"]
        finally:
            host.close()
    with platform.db.read() as s:
        listed = privacy.list_orders(Ctx(s, platform, principal))
        entries = list(s.execute(select(AuditEntry).where(AuditEntry.action.in_(["deletion.order", "deletion.ack"])))
                       .scalars())
    assert listed[0]["acks"][0]["host_id"] == registered["host_id"] and listed[0]["acks"][0]["counts"]["storage_keys"] == 1
    assert sorted(e.action for e in entries) == ["deletion.ack", "deletion.order"]
    assert "tea" not in json.dumps([e.details for e in entries])
    platform.db.dispose()
