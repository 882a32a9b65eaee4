"""Upload -> checks -> review -> release -> grayscale -> rollback -> takedown, over HTTP, on SQLite and
PostgreSQL, with two replicas on one database and the real container updater on the receiving end."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from minibox.host.update import TakenDown, Updater
from minibox.package import HostKeyPair, TrustStore
from minibox.platform.api import create_app
from minibox.platform.serve import BackgroundServer

from .conftest import auth, make_platform, project_zip, seed_tenant, sessions_for


def upload(c: httpx.Client, t, app_id: str, version: str, data: bytes) -> httpx.Response:
    return c.post(f"/api/v1/apps/{app_id}/versions", headers=auth(t, "developer"),
                  data={"version": version, "kind": "source"}, files={"file": ("src.zip", data, "application/zip")})


def approve_flow(c1: httpx.Client, c2: httpx.Client, t, app_id: str, version: str) -> None:
    r = c1.post(f"/api/v1/apps/{app_id}/versions/{version}/submit", headers=auth(t, "developer"), json={})
    assert r.status_code == 200 and r.json()["status"] == "submitted", r.text
    r = c2.post(f"/api/v1/apps/{app_id}/versions/{version}/approve", headers=auth(t, "reviewer"),
                json={"comment": "ok"})
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text


def device(tmp: Path, name: str, url: str, host_id: str, api_key: str, keyset: bytes, pair: HostKeyPair) -> Updater:
    trust = TrustStore.create(tmp / f"trust-{name}", keyset)
    return Updater(url, host_id, api_key, trust, tmp / f"cache-{name}", pair)


def test_full_workflow_two_replicas(database_url: str, tmp_path: Path) -> None:
    p1 = make_platform(tmp_path / "data", database_url)
    p2 = make_platform(tmp_path / "data", database_url)  # a second replica: same DB, same blob store and keys
    t = sessions_for(p1, seed_tenant(p1, "Bank"))
    try:
        with BackgroundServer(create_app(p1)) as s1, BackgroundServer(create_app(p2)) as s2, \
                httpx.Client(base_url=s1.url, timeout=60) as c1, httpx.Client(base_url=s2.url, timeout=60) as c2:
            # admin: app, member, allowlist, host with its own key pair
            assert c1.post("/api/v1/apps", headers=auth(t, "admin"),
                           json={"app_id": "wallet", "name": "Wallet"}).status_code == 201
            r = c2.post("/api/v1/apps/wallet/members", headers=auth(t, "admin"),
                        json={"user_id": t.users["developer"].user_id})
            assert r.status_code == 201, r.text
            r = c1.put("/api/v1/apps/wallet/allowlist", headers=auth(t, "admin"),
                       json={"request": ["https://api.bank.example"], "hostApis": ["bank.transfer"]})
            assert r.status_code == 200, r.text
            pair = HostKeyPair.generate()
            r = c2.post("/api/v1/hosts", headers=auth(t, "admin"),
                        json={"name": "Mobile banking", "public_key": pair.public_bytes().hex()})
            assert r.status_code == 201 and "private_key_pem" not in r.json()
            host_id, api_key = r.json()["host_id"], r.json()["api_key"]
            assert c1.post(f"/api/v1/hosts/{host_id}/apps", headers=auth(t, "admin"),
                           json={"app_id": "wallet"}).status_code == 201

            # developer uploads 1.0.0 as source; it is compiled and checked on the server
            r = upload(c1, t, "wallet", "1.0.0", project_zip(tmp_path, title="one"))
            assert r.status_code == 201, r.text
            assert r.json()["status"] == "checked" and r.json()["report"]["passed"] is True
            assert r.json()["build"] == 1

            # review order and separation of duties
            r = c2.post("/api/v1/apps/wallet/versions/1.0.0/approve", headers=auth(t, "reviewer"), json={})
            assert r.status_code == 409 and r.json()["code"] == "bad_state"
            r = c1.post("/api/v1/apps/wallet/releases", headers=auth(t, "operator"), json={"version": "1.0.0"})
            assert r.status_code == 409 and r.json()["code"] == "not_approved"
            assert c1.post("/api/v1/apps/wallet/versions/1.0.0/submit", headers=auth(t, "developer"),
                           json={}).status_code == 200
            r = c1.post("/api/v1/apps/wallet/versions/1.0.0/approve", headers=auth(t, "developer"), json={})
            assert r.status_code == 403
            r = c2.post("/api/v1/apps/wallet/versions/1.0.0/approve", headers=auth(t, "reviewer"),
                        json={"comment": "fine"})
            assert r.status_code == 200, r.text
            r = c2.post("/api/v1/apps/wallet/releases", headers=auth(t, "operator"),
                        json={"version": "1.0.0", "note": "first"})
            assert r.status_code == 201, r.text
            assert r.json()["allowlist"]["request"] == ["https://api.bank.example"]

            keyset = c1.get("/api/v1/trust/keyset").content
            inside = device(tmp_path, "in", s1.url, host_id, api_key, keyset, pair)
            outside = device(tmp_path, "out", s2.url, host_id, api_key, keyset, pair)
            got = inside.update("wallet", "u-in")
            assert (got.version, got.build) == ("1.0.0", 1)
            assert outside.update("wallet", "u-out").version == "1.0.0"

            # 1.1.0 to a grayscale rule naming u-in
            assert upload(c2, t, "wallet", "1.1.0", project_zip(tmp_path, title="two")).status_code == 201
            approve_flow(c1, c2, t, "wallet", "1.1.0")
            r = c1.post("/api/v1/apps/wallet/releases", headers=auth(t, "operator"),
                        json={"version": "1.1.0", "rules": {"users": ["u-in"], "regions": ["cn-east"]}})
            assert r.status_code == 201 and r.json()["kind"] == "gray", r.text
            got = inside.update("wallet", "u-in", region="cn-east")
            assert (got.version, got.build) == ("1.1.0", 2)
            assert inside.check("wallet", "u-in", region="cn-west").version == "1.0.0"  # outside the region
            assert outside.update("wallet", "u-out", region="cn-east").version == "1.0.0"
            info = inside.check("wallet", "u-in", region="cn-east")
            assert info.allowlist["hostApis"] == ["bank.transfer"]

            # HTTP Range on the package; foreign keys and ungranted hosts get nothing
            h = {"X-Minibox-Host-Key": api_key}
            r = c2.get(f"/api/v1/packages/{info.sha256}.mbx", headers={**h, "Range": "bytes=0-9"})
            assert r.status_code == 206 and len(r.content) == 10
            assert r.headers["content-range"] == f"bytes 0-9/{info.size}"
            r = c2.get(f"/api/v1/packages/{info.sha256}.mbx", headers={**h, "Range": "bytes=-5"})
            assert r.status_code == 206 and len(r.content) == 5
            r = c2.get(f"/api/v1/packages/{info.sha256}.mbx", headers={**h, "Range": f"bytes={info.size}-"})
            assert r.status_code == 416
            assert c1.get(f"/api/v1/packages/{info.sha256}.mbx").status_code == 401
            other = c1.post("/api/v1/hosts", headers=auth(t, "admin"), json={"name": "Other host"}).json()
            assert "private_key_pem" in other
            r = c1.get(f"/api/v1/packages/{info.sha256}.mbx", headers={"X-Minibox-Host-Key": other["api_key"]})
            assert r.status_code == 404
            r = c1.get(f"/api/v1/hosts/{other['host_id']}/apps/wallet/update",
                       headers={"X-Minibox-Host-Key": other["api_key"]}, params={"user_id": "u"})
            assert r.status_code == 403 and r.json()["code"] == "app_not_allowed"
            r = c1.get(f"/api/v1/hosts/{host_id}/apps/wallet/update",
                       headers={"X-Minibox-Host-Key": other["api_key"]}, params={"user_id": "u"})
            assert r.status_code == 401

            # stopping the grayscale release re-issues the full one under a higher build, so devices
            # that ran 1.1.0 (build 2) accept going back to 1.0.0
            gray_id = c1.get("/api/v1/apps/wallet/releases", headers=auth(t, "operator")).json()[-1]["id"]
            r = c2.post(f"/api/v1/apps/wallet/releases/{gray_id}/stop", headers=auth(t, "operator"))
            assert r.status_code == 200 and r.json()["active"] is False
            got = inside.update("wallet", "u-in", region="cn-east")
            assert (got.version, got.build) == ("1.0.0", 3)
            r = c1.post("/api/v1/apps/wallet/releases", headers=auth(t, "operator"), json={"version": "1.1.0"})
            assert r.status_code == 201 and r.json()["build"] == 4
            assert inside.update("wallet", "u-in").version == "1.1.0"
            assert outside.update("wallet", "u-out").build == 4

            # rollback to 1.0.0: a new release with a higher build, so devices that ran 1.1.0 accept it
            r = c2.post("/api/v1/apps/wallet/rollback", headers=auth(t, "operator"), json={"version": "1.0.0"})
            assert r.status_code == 201 and r.json()["build"] == 5, r.text
            got = inside.update("wallet", "u-in", region="cn-east")
            assert (got.version, got.build) == ("1.0.0", 5)
            assert outside.update("wallet", "u-out").build == 5

            # takedown: the next update check says 410 and the device forgets the package
            r = c1.post("/api/v1/apps/wallet/takedown", headers=auth(t, "operator"), json={"reason": "incident"})
            assert r.status_code == 200 and r.json()["taken_down"] is True
            with pytest.raises(TakenDown):
                inside.update("wallet", "u-in")
            r = c2.get(f"/api/v1/hosts/{host_id}/apps/wallet/update", headers=h, params={"user_id": "u-out"})
            assert r.status_code == 410 and r.json()["code"] == "taken_down"
            assert c2.get(f"/api/v1/packages/{info.sha256}.mbx", headers=h).status_code == 404

            # history
            hist = c1.get("/api/v1/apps/wallet/versions/1.1.0/reviews", headers=auth(t, "reviewer")).json()
            assert [e["action"] for e in hist] == ["submit", "approve"]
            rels = c2.get("/api/v1/apps/wallet/releases", headers=auth(t, "operator")).json()
            assert [(x["kind"], x["active"]) for x in rels] == [("full", False), ("gray", False), ("full", False),
                                                                ("full", False), ("rollback", False)]
            v = c1.get("/api/v1/audit/verify", headers=auth(t, "auditor")).json()
            assert v["ok"] is True and v["entries"] > 15
            actions = [e["action"] for e in c2.get("/api/v1/audit?limit=500", headers=auth(t, "auditor")).json()]
            for expected in ("app.create", "version.upload", "review.approve", "release.full", "release.gray",
                             "release.stop", "release.reissue", "release.rollback", "release.takedown",
                             "host.register"):
                assert expected in actions
            inside.close()
            outside.close()
    finally:
        p1.db.dispose()
        p2.db.dispose()


def test_concurrent_writes_through_two_replicas_keep_one_chain(database_url: str, tmp_path: Path) -> None:
    """Replicas share nothing but the database: parallel writes through both leave one valid audit chain."""
    from concurrent.futures import ThreadPoolExecutor

    p1 = make_platform(tmp_path / "data", database_url)
    p2 = make_platform(tmp_path / "data", database_url)
    t = sessions_for(p1, seed_tenant(p1, "Busy"))
    try:
        with BackgroundServer(create_app(p1)) as s1, BackgroundServer(create_app(p2)) as s2:
            def create(i: int) -> int:
                url = (s1 if i % 2 else s2).url
                with httpx.Client(base_url=url, timeout=60) as c:
                    return c.post("/api/v1/apps", headers=auth(t, "admin"),
                                  json={"app_id": f"app{i}", "name": f"App {i}"}).status_code

            with ThreadPoolExecutor(8) as pool:
                codes = list(pool.map(create, range(24)))
            assert codes == [201] * 24
            with httpx.Client(base_url=s1.url, timeout=60) as c:
                assert len(c.get("/api/v1/apps", headers=auth(t, "admin")).json()) == 24
                v = c.get("/api/v1/audit/verify", headers=auth(t, "auditor")).json()
            assert v["ok"] is True, v["problems"]
            assert v["entries"] == 6 + 24
    finally:
        p1.db.dispose()
        p2.db.dispose()
