"""Telemetry end to end (issue 11): real sandboxed mini-programs on a host, its spool and signed
uploads over real HTTP, the platform's ingest, rollups and metrics on SQLite and PostgreSQL, the
refusals, a kill -9 of a host process, the rollout guard, and Prometheus `/metrics`."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from minibox.host import Host, HostConfig
from minibox.host.telemetry import Telemetry, TelemetryClient, TelemetryConfig
from minibox.package import HostKeyPair, TrustStore
from minibox.platform.api import create_app
from minibox.platform.apps import service as apps
from minibox.platform.context import Ctx, Platform
from minibox.platform.hosts import service as hosts
from minibox.platform.serve import BackgroundServer
from minibox.platform.telemetry import service as tsvc
from minibox.platform.telemetry.models import TelemetryBatch, TelemetryEvent
from minibox.telemetry_sig import SIG_HEADER, mac_key, sign_body
from minibox.testing import launch

from .conftest import Tenant, make_platform, seed_tenant, sessions_for

APP = "wxtelemetry00001"
OTHER_APP = "wxtelemetry00002"  # exists, but not granted to the host

PROJECT = {
    "project.config.json": json.dumps({"appid": "t", "miniprogramRoot": ""}),
    "app.json": json.dumps({"pages": ["pages/index/index", "pages/bad/bad"]}),
    "app.js": "App({})\n",
    "pages/index/index.json": "{}",
    "pages/index/index.wxml": "<view class=\"n\">{{n}}</view><view class=\"go\" bindtap=\"go\">go</view>\n",
    "pages/index/index.js": textwrap.dedent("""\
        Page({
          data: { n: 0 },
          onLoad() {
            wx.setStorageSync('visits', 1);
            wx.reportEvent('home_open', { source: 'test', n: 3 });
            wx.getRealtimeLogManager().info('home loaded', 42);
            this.setData({ n: wx.getPerformance().getEntries().length });
          },
          go() { wx.navigateTo({ url: '/pages/bad/bad' }); }
        })
        """),
    "pages/bad/bad.json": "{}",
    "pages/bad/bad.wxml": "<view>bad</view>\n",
    "pages/bad/bad.js": "Page({\n  onLoad() {\n    this.explode();\n  },\n  explode() {\n    throw new Error('bad page blew up 42');\n  }\n})\n",
}


def write_project(root: Path, files: dict[str, str] = PROJECT) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@dataclass
class Env:
    platform: Platform
    server: BackgroundServer
    client: httpx.Client
    tenant: Tenant
    host_id: str
    api_key: str
    host_key: HostKeyPair
    trust: TrustStore
    platform_key: bytes

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tenant.tokens['admin']}"}

    def telemetry_config(self, **kw: Any) -> TelemetryConfig:
        return TelemetryConfig(base_url=self.server.url, api_key=self.api_key, host_private_key=self.host_key,
                               trust=self.trust, **kw)

    def signed_post(self, body: bytes, *, key: bytes | None = None, api_key: str | None = None) -> httpx.Response:
        k = key or mac_key(self.host_key.private, self.platform_key, self.host_id)
        return self.client.post("/api/v1/telemetry", content=body, headers={
            "X-Minibox-Host-Key": api_key or self.api_key, SIG_HEADER: sign_body(k, body),
            "Content-Type": "application/json"})

    def count_events(self) -> int:
        with self.platform.db.read() as s:
            return int(s.execute(select(func.count()).select_from(TelemetryEvent)).scalar_one())


def make_env(tmp: Path, database_url: str | None) -> Iterator[Env]:
    platform = make_platform(tmp / "platform", database_url)
    tenant = sessions_for(platform, seed_tenant(platform, f"Tel{secrets.token_hex(3)}"))
    with platform.db.write() as s:
        ctx = Ctx(s, platform, tenant.users["admin"])
        apps.create_app(ctx, APP, "Telemetry test app")
        apps.create_app(ctx, OTHER_APP, "Not granted")
        creds = hosts.register(ctx, "bank app", None)
        hosts.grant(ctx, creds.host.host_id, APP)
    assert creds.private_key_pem is not None
    with BackgroundServer(create_app(platform)) as srv, httpx.Client(base_url=srv.url, timeout=60) as c:
        trust = TrustStore.create(tmp / "device-trust", c.get("/api/v1/trust/keyset").content)
        doc = c.get("/api/v1/telemetry/key").json()
        yield Env(platform, srv, c, tenant, creds.host.host_id, creds.api_key,
                  HostKeyPair.from_private_pem(creds.private_key_pem.encode()), trust, bytes.fromhex(doc["public_key"]))
    platform.db.dispose()


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> Iterator[Env]:
    yield from make_env(tmp_path, database_url)


@pytest.fixture
def sqlite_env(tmp_path: Path) -> Iterator[Env]:
    yield from make_env(tmp_path, None)


def batch(env: Env, events: list[dict[str, Any]], **over: Any) -> bytes:
    doc = {"format": 1, "batch_id": secrets.token_hex(16), "host_id": env.host_id,
           "created_at": int(time.time() * 1000), "dropped": 0, "events": events, **over}
    return json.dumps(doc).encode()


def event(kind: str = "custom", *, app: str = APP, version: str = "1.0.0", user: str | None = None,
          name: str = "x", data: dict[str, Any] | None = None, t: int | None = None) -> dict[str, Any]:
    return {"k": kind, "t": t or int(time.time() * 1000), "a": app, "v": version, "u": user or secrets.token_hex(16),
            "s": secrets.token_hex(8), "n": name, "d": data or {}}


# ---- end to end --------------------------------------------------------------------------------------------

def test_errors_and_page_views_of_a_running_mini_program_reach_the_rollups(env: Env, tmp_path: Path) -> None:
    project = write_project(tmp_path / "project")
    config = env.telemetry_config(flush_interval_s=3600)  # the test uploads by hand
    host = Host(HostConfig(data_dir=tmp_path / "host", host_id=env.host_id, telemetry=config))
    host.telemetry.versions[APP] = "1.0.0"
    try:
        for user in ("alice", "bob"):
            mp = launch(project, host=host, app_id=APP, user=user)
            try:
                assert mp.current_page.path == "pages/index/index"
                mp.current_page.query_selector(".go").tap()
                mp.wait_idle()
                assert mp.current_page.path == "pages/bad/bad"
                assert mp.instance.errors and "bad page blew up" in mp.instance.errors[0]["message"]
            finally:
                mp.close()
        result = host.telemetry.upload()
        assert result["sent"] >= 1 and result["pending"] == 0 and result["rejected"] == 0, result
    finally:
        host.close()

    r = env.client.get(f"/api/v1/apps/{APP}/metrics", headers=env.admin())
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["launches"] == 2 and m["sessions"] == 2
    assert m["page_views"] == 4  # index and bad, for each user
    assert m["errors"] == 2 and m["error_rate"] == 1.0 and m["crash_free"] == 1.0
    assert m["active_users"] == 2
    assert m["launch_ms"]["count"] == 2 and m["launch_ms"]["p50"] is not None
    assert m["launch_ms"]["p95"] >= m["launch_ms"]["p50"]
    top = m["top_errors"][0]
    assert top["count"] == 2 and top["location"] == "pages/bad/bad.js:6:15"
    assert top["stack"][:2] == ["pages/bad/bad.js:6:15", "pages/bad/bad.js:3:10"]
    assert "mapped" not in top  # not a protected version: shown as reported
    assert top["first_version"] == "1.0.0" and "bad page blew up" in top["message"]
    calls = {(c["api"], c["outcome"]): c["count"] for c in m["api_calls"]}
    assert calls[("setStorageSync", "granted")] == 2
    assert ("reportEvent", "granted") not in calls  # the analytics pipeline is not an API call
    assert m["custom_events"] == 2 and m["setdata"]["count"] >= 2 and m["setdata"]["bytes"] > 0
    assert m["versions"]["1.0.0"]["sessions"] == 2
    assert m["reach"] and m["reach"][-1]["users"] == {"1.0.0": 2}
    # filters: another version has nothing; a range before the events has nothing
    assert env.client.get(f"/api/v1/apps/{APP}/metrics", headers=env.admin(),
                          params={"version": "9.9.9"}).json()["launches"] == 0
    old = env.client.get(f"/api/v1/apps/{APP}/metrics", headers=env.admin(),
                         params={"from": "2020-01-01T00:00:00Z", "to": "2020-01-02T00:00:00Z"}).json()
    assert old["launches"] == 0 and old["top_errors"] == []

    # raw events: pseudonyms only, re-keyed per app; no page data, no storage values
    with env.platform.db.read() as s:
        rows = list(s.execute(select(TelemetryEvent)).scalars())
    users = {e.user for e in rows}
    assert len(users) == 2 and not users & {"alice", "bob"}
    assert not users & {Telemetry(tmp_path / "host", env.host_id, b"\0" * 32).pseudonym(APP, "alice")}
    dump = json.dumps([[e.kind, e.name, e.data] for e in rows])
    assert "alice" not in dump and "visits" not in dump
    assert any(e.kind == "log" and e.data["msg"] == "home loaded 42" for e in rows)
    assert any(e.kind == "custom" and e.name == "home_open" and e.data["data"] == {"source": "test", "n": 3}
               for e in rows)


def test_prometheus_metrics_endpoint(sqlite_env: Env) -> None:
    env = sqlite_env
    env.client.get(f"/api/v1/hosts/{env.host_id}/apps/{APP}/update", params={"user_id": "u"})  # no key: 401
    r = env.signed_post(batch(env, [event("launch", data={"ms": 120})]))
    assert r.status_code == 200, r.text
    text = env.client.get("/metrics").text
    assert 'minibox_http_requests_total{method="POST",route="/api/v1/telemetry",status="200"}' in text
    assert "minibox_http_request_duration_seconds_bucket" in text
    assert 'minibox_update_checks_total{decision="unauthenticated"}' in text
    assert "minibox_db_pool_size" in text and "minibox_db_pool_checked_out" in text
    assert 'minibox_telemetry_batches_total{result="stored"}' in text
    assert "minibox_telemetry_ingest_lag_seconds_bucket" in text
    assert "/metrics" not in env.client.get("/openapi.json").json()["paths"]


def test_json_log_formatter() -> None:
    import logging

    from minibox.platform.metrics import JsonFormatter

    rec = logging.LogRecord("minibox.platform", logging.WARNING, __file__, 1, "db %s", ("down",), None)
    doc = json.loads(JsonFormatter().format(rec))
    assert doc["level"] == "warning" and doc["message"] == "db down" and doc["logger"] == "minibox.platform"


# ---- refusals -----------------------------------------------------------------------------------------------

def test_forged_replayed_oversized_and_foreign_batches_are_refused(env: Env) -> None:
    body = batch(env, [event("launch", data={"ms": 100})])
    # forged: a signature with another key, a tampered body, none at all, a wrong API key
    forged = env.signed_post(body, key=b"\x01" * 32)
    assert forged.status_code == 401 and forged.json()["code"] == "bad_signature"
    k = mac_key(env.host_key.private, env.platform_key, env.host_id)
    tampered = env.client.post("/api/v1/telemetry", content=body.replace(b'"ms": 100', b'"ms": 999'), headers={
        "X-Minibox-Host-Key": env.api_key, SIG_HEADER: sign_body(k, body)})
    assert tampered.status_code == 401 and tampered.json()["code"] == "bad_signature"
    unsigned = env.client.post("/api/v1/telemetry", content=body, headers={"X-Minibox-Host-Key": env.api_key})
    assert unsigned.status_code == 401
    assert env.signed_post(body, api_key="mbh_" + "x" * 40).status_code == 401
    # another host key pair cannot sign for this host
    stranger = mac_key(HostKeyPair.generate().private, env.platform_key, env.host_id)
    assert env.signed_post(body, key=stranger).json()["code"] == "bad_signature"
    assert env.count_events() == 0

    # stored once; the replay is a 200 duplicate and stores nothing
    first = env.signed_post(body)
    assert first.status_code == 200 and first.json() == {"batch_id": json.loads(body)["batch_id"], "stored": 1,
                                                         "duplicate": False}
    again = env.signed_post(body)
    assert again.status_code == 200 and again.json()["duplicate"] is True and again.json()["stored"] == 0
    assert env.count_events() == 1

    # oversized: by bytes, and by event count
    big = batch(env, [event(name="x" * 300, data={"pad": "y" * 3000}) for _ in range(400)])
    assert len(big) > tsvc.MAX_BODY_BYTES
    r = env.signed_post(big)
    assert r.status_code == 413 and r.json()["code"] == "too_large" and "1048576" in r.json()["message"]
    many = batch(env, [event() for _ in range(tsvc.MAX_EVENTS + 1)])
    r = env.signed_post(many)
    assert r.status_code == 413 and r.json()["code"] == "too_many_events"

    # an app the host is not granted (it exists, in the same organisation): the whole batch is refused
    r = env.signed_post(batch(env, [event(), event(app=OTHER_APP)]))
    assert r.status_code == 403 and r.json()["code"] == "app_not_granted" and OTHER_APP in r.json()["message"]
    # a batch naming another host, a stale batch, a malformed event
    r = env.signed_post(batch(env, [event()], host_id="hsomeoneelse0000"))
    assert r.status_code == 403 and r.json()["code"] == "wrong_host"
    r = env.signed_post(batch(env, [event()], created_at=int((time.time() - 90 * 86400) * 1000)))
    assert r.status_code == 422 and r.json()["code"] == "stale_batch"
    r = env.signed_post(batch(env, [event(user="alice")]))
    assert r.status_code == 422 and r.json()["code"] == "invalid_batch" and r.json()["details"]["field"] == "u"
    r = env.signed_post(batch(env, [event(kind="steal")]))
    assert r.status_code == 422 and r.json()["details"] == {"event": 0, "field": "k"}
    assert env.count_events() == 1


def test_host_quarantines_a_refused_batch_and_sends_the_rest(sqlite_env: Env, tmp_path: Path) -> None:
    env = sqlite_env
    tel = Telemetry(tmp_path / "h", env.host_id, b"k" * 32, env.telemetry_config())
    bad = batch(env, [event(app=OTHER_APP)])
    tel.spool.append(json.loads(bad)["batch_id"], bad)
    good = batch(env, [event()])
    tel.spool.append(json.loads(good)["batch_id"], good)
    out = tel.upload()
    assert out == {"sent": 1, "duplicate": 0, "rejected": 1, "pending": 0}
    assert (tel.dir / "rejected.jsonl").read_bytes().strip() == bad
    tel.close()


# ---- kill -9 -----------------------------------------------------------------------------------------------

CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from minibox.host.telemetry import Telemetry, TelemetryConfig, _Session
    from minibox.package import HostKeyPair
    data_dir, host_id, api_key, pem, url, key_hex = sys.argv[1:7]
    cfg = TelemetryConfig(batch_size=7, flush_interval_s=0.02, base_url=url, api_key=api_key,
                          host_private_key=HostKeyPair.from_private_pem(pem.encode()),
                          platform_key=bytes.fromhex(key_hex))
    tel = Telemetry(Path(data_dir), host_id, b"m" * 32, cfg)
    tel.start()   # the background uploader runs while events are made
    session = _Session(tel, "%s", "1.0.0", tel.pseudonym("%s", "u1"), "u1")
    i = 0
    while True:
        session.emit("custom", "e%%d" %% i)
        i += 1
        if i %% 7 == 0:
            tel.flush()                        # returns after the batch's fsync
            print("spooled", i, flush=True)
        if i %% 50 == 0:
            time.sleep(0.01)
""" % (APP, APP))


def test_kill_9_with_spooled_events_then_restart_delivers_each_once(sqlite_env: Env, tmp_path: Path) -> None:
    env = sqlite_env
    data_dir = tmp_path / "host"
    pem = env.host_key.private_pem().decode()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(data_dir), env.host_id, env.api_key, pem,
                             env.server.url, env.platform_key.hex()], stdout=subprocess.PIPE, text=True)
    confirmed = 0
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            confirmed = int(line.split()[1])
            if confirmed >= 700 and env.count_events() > 0:  # some uploaded, some still spooled
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    # a torn write as a kill mid-append leaves it
    with open(data_dir / "telemetry" / "spool.jsonl", "ab") as f:
        f.write(b'{"format":1,"batch_id":"')
    tel = Telemetry(data_dir, env.host_id, b"m" * 32, env.telemetry_config())
    pending = {e["n"] for _, body in tel.spool.unsent() for e in json.loads(body)["events"]}
    assert pending, "the kill should leave unsent events in the spool"
    out = tel.upload()
    assert out["pending"] == 0 and out["rejected"] == 0, out
    assert tel.upload() == {"sent": 0, "duplicate": 0, "rejected": 0, "pending": 0}
    tel.close()
    with env.platform.db.read() as s:
        names = list(s.execute(select(TelemetryEvent.name)).scalars())
    numbers = sorted(int(n[1:]) for n in names)
    assert len(numbers) == len(set(numbers)), "an event was stored twice"
    assert numbers == list(range(len(numbers))), "an event was lost (a gap)"
    # everything the child saw fsync'd, and everything left in the spool, arrived (a batch that was in
    # flight at the kill may be in the spool and already stored: it came back as a duplicate)
    assert len(numbers) >= confirmed and pending <= set(names)


def test_a_batch_stored_but_not_acknowledged_is_a_duplicate_after_restart(sqlite_env: Env, tmp_path: Path) -> None:
    env = sqlite_env
    tel = Telemetry(tmp_path / "h", env.host_id, b"k" * 32, env.telemetry_config())
    body = batch(env, [event(), event()])
    tel.spool.append(json.loads(body)["batch_id"], body)
    # the platform stores it, then the host dies before writing the ack
    client = TelemetryClient(env.server.url, env.host_id, env.api_key, env.host_key, trust=env.trust)
    assert client.send(body)[1]["stored"] == 2
    client.close()
    tel2 = Telemetry(tmp_path / "h", env.host_id, b"k" * 32, env.telemetry_config())
    assert tel2.upload() == {"sent": 0, "duplicate": 1, "rejected": 0, "pending": 0}
    assert env.count_events() == 2
    with env.platform.db.read() as s:
        assert s.execute(select(func.count()).select_from(TelemetryBatch)).scalar_one() == 1
    tel.close()
    tel2.close()


# ---- the guard ---------------------------------------------------------------------------------------------

def sessions(version: str, n: int, *, errors: int = 0, crashed: int = 0) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        out.append(event("session_end", version=version, data={"ms": 1000, "errors": 1 if i < errors else 0,
                                                               "crashed": i < crashed}))
    return out


def test_guard_metrics_from_rollups(env: Env) -> None:
    def send(events: list[dict[str, Any]]) -> None:
        for i in range(0, len(events), tsvc.MAX_EVENTS):
            r = env.signed_post(batch(env, events[i:i + tsvc.MAX_EVENTS]))
            assert r.status_code == 200, r.text

    send(sessions("1.0.0", 600, errors=12))          # baseline: 2% of sessions with an error
    send(sessions("1.1.0", 300, errors=9))           # 3%: not enough sessions yet
    with env.platform.db.read() as s:
        app = apps._org_app(Ctx(s, env.platform, env.tenant.users["admin"]), APP)
        g = tsvc.guard_metrics(s, app, "1.1.0", "1.0.0")
    assert (g.new.sessions, g.baseline.sessions, g.baseline.error_sessions) == (300, 600, 12)
    assert g.evaluate().decision == "wait"
    send(sessions("1.1.0", 300, errors=9))           # 600 sessions, 3% = 1.5x of 2%: passes
    with env.platform.db.read() as s:
        g = tsvc.guard_metrics(s, app, "1.1.0", "1.0.0")
    assert g.new.error_rate == pytest.approx(0.03) and g.evaluate().decision == "pass"
    send(sessions("1.1.0", 100, errors=20))          # 700 sessions, 38 with errors: 5.4% > 3%
    with env.platform.db.read() as s:
        g = tsvc.guard_metrics(s, app, "1.1.0", "1.0.0")
    verdict = g.evaluate()
    assert verdict.decision == "fail" and "error rate" in verdict.reasons[0]
    send(sessions("1.2.0", 500, crashed=3))          # 99.4% crash-free
    with env.platform.db.read() as s:
        verdict = tsvc.guard_metrics(s, app.id, "1.2.0", "1.0.0").evaluate()
    assert verdict.decision == "fail" and "crash-free" in verdict.reasons[0]


# ---- retention ---------------------------------------------------------------------------------------------

def test_prune_drops_old_raw_events_and_keeps_rollups(sqlite_env: Env) -> None:
    env = sqlite_env
    assert env.signed_post(batch(env, [event("launch", data={"ms": 80}), event("page_view")])).status_code == 200
    assert tsvc.prune(env.platform.db, days=1) == {"events": 0, "batches": 0, "rollups": 0}
    with env.platform.db.write() as s:
        old = tsvc.datetime.now(tsvc.UTC) - tsvc.timedelta(days=3)
        s.execute(TelemetryEvent.__table__.update().values(received_at=old))
        s.execute(TelemetryBatch.__table__.update().values(received_at=old))
    out = tsvc.prune(env.platform.db, days=1)
    assert out["events"] == 2 and out["batches"] == 1
    assert env.count_events() == 0
    m = env.client.get(f"/api/v1/apps/{APP}/metrics", headers=env.admin()).json()
    assert m["launches"] == 1 and m["page_views"] == 1


def test_prune_command_and_the_signed_telemetry_key(sqlite_env: Env) -> None:
    from typer.testing import CliRunner

    from minibox.cli import app as cli
    from minibox.telemetry_sig import verify_platform_key

    env = sqlite_env
    doc = env.client.get("/api/v1/telemetry/key").json()
    assert verify_platform_key(doc, env.trust.trusted_keys()) == env.platform_key
    forged = {**doc, "public_key": HostKeyPair.generate().public_bytes().hex()}
    with pytest.raises(ValueError, match="does not verify"):
        verify_platform_key(forged, env.trust.trusted_keys())
    settings = env.platform.settings
    r = CliRunner().invoke(cli, ["telemetry", "prune", "--data-dir", str(settings.data_dir),
                                 "--database-url", settings.database_url, "--days", "5"])
    assert r.exit_code == 0, r.output
    assert "pruned 0 raw events" in r.output


def test_metrics_ranges_are_checked(sqlite_env: Env) -> None:
    env = sqlite_env
    url = f"/api/v1/apps/{APP}/metrics"
    for params in ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
                   {"from": "2000-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
                   {"from": "0001-01-01T00:00:00+05:00", "to": "0001-01-02T00:00:00Z"}):
        r = env.client.get(url, headers=env.admin(), params=params)
        assert r.status_code == 422 and r.json()["code"] == "invalid_range", (params, r.text)
    assert env.client.get(f"/api/v1/apps/{OTHER_APP}/metrics", headers=env.admin()).json()["launches"] == 0
    assert env.client.get("/api/v1/apps/nope/metrics", headers=env.admin()).status_code == 404
    assert env.client.get(url).status_code == 401


def test_ranges_read_whole_days_and_ragged_hours_without_double_counting(sqlite_env: Env) -> None:
    env = sqlite_env
    now = int(time.time() * 1000)
    hour = tsvc.HOUR_MS
    times = [now - k * hour for k in (1, 5, 23, 26, 30, 49, 50, 71, 75, 100)]
    r = env.signed_post(batch(env, [event("launch", t=t, data={"ms": 10 * (i + 1)}) for i, t in enumerate(times)]))
    assert r.status_code == 200, r.text

    def iso(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    for lo_h, hi_h in ((120, 0), (72, 2), (50, 24), (30, 25), (3, 0), (101, 99)):
        lo, hi = now - lo_h * hour, now - hi_h * hour + 1
        m = env.client.get(f"/api/v1/apps/{APP}/metrics", headers=env.admin(),
                           params={"from": iso(lo), "to": iso(hi)}).json()
        # rollups are per whole hour: the range covers the hours its ends fall in
        h0, h1 = lo // hour, -(-(hi // 1000 * 1000) // hour)
        expected = sum(1 for t in times if h0 <= t // hour < h1)
        assert m["launches"] == expected == m["launch_ms"]["count"], (lo_h, hi_h, m["launches"], expected)
        assert sum(d["launches"] for d in m["series"]) == expected


def test_periods_split() -> None:
    assert tsvc.periods(10, 20) == [(1, 10, 20)]
    assert tsvc.periods(24, 72) == [(24, 1, 3)]
    assert tsvc.periods(23, 73) == [(24, 1, 3), (1, 23, 24), (1, 72, 73)]
