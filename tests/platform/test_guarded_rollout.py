"""Guarded rollout (issue 11), on SQLite and PostgreSQL: a grayscale release carrying a guard stops itself
when its version errors much more than the full release's, the audit log says why (actor `system`), and a
real webhook receiver on 127.0.0.1 gets a signed notification (after a failed first attempt). A passing
guard and a "wait" (too few sessions) leave the release running; two replicas never both stop it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from minibox.platform.audit.models import AuditEntry
from minibox.platform.release import guard as rguard
from minibox.platform.release.models import Release
from minibox.platform.server import open_platform
from minibox.platform.webhooks import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, Notifier, verify

from .conftest import project_zip
from .test_telemetry import APP, PROJECT, Env, batch, make_env, sessions, write_project

SECRET = "webhook-test-secret"
GUARD = {"max_error_ratio": 1.5, "min_crash_free": 0.995, "min_sessions": 500}


class Receiver:
    """A webhook endpoint on 127.0.0.1 that answers 500 to the first `fail_first` requests."""

    def __init__(self, fail_first: int = 1):
        self.requests: list[tuple[dict[str, str], bytes, int]] = []
        self.fail_first = fail_first
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = 500 if len(outer.requests) < outer.fail_first else 204
                outer.requests.append(({k: v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def delivered(self) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for h, b, status in self.requests if status < 300]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def eventually(probe: Any, within: float = 30.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail("condition not reached")
        time.sleep(0.02)


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> Iterator[Env]:
    yield from make_env(tmp_path, database_url)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def call(env: Env, role: str, method: str, path: str, expect: int | None = None, **kw: Any) -> Any:
    r = env.client.request(method, path, headers={"Authorization": f"Bearer {env.tenant.tokens[role]}"}, **kw)
    if expect is not None:
        assert r.status_code == expect or expect < 300 > r.status_code, r.text
    return r


def released_app(env: Env, tmp: Path) -> None:
    """APP with 1.0.0 in full release and 1.1.0 approved (not released)."""
    call(env, "admin", "POST", f"/api/v1/apps/{APP}/members", 200,
         json={"user_id": env.tenant.users["developer"].user_id})
    for v in ("1.0.0", "1.1.0"):
        call(env, "developer", "POST", f"/api/v1/apps/{APP}/versions", 201, data={"version": v, "kind": "source"},
             files={"file": ("src.zip", project_zip(tmp, title=v), "application/zip")})
        call(env, "developer", "POST", f"/api/v1/apps/{APP}/versions/{v}/submit", 200, json={})
        call(env, "reviewer", "POST", f"/api/v1/apps/{APP}/versions/{v}/approve", 200, json={})
    call(env, "operator", "POST", f"/api/v1/apps/{APP}/releases", 201, json={"version": "1.0.0"})


def gray(env: Env, guard: dict[str, Any] | None = GUARD) -> dict[str, Any]:
    return call(env, "operator", "POST", f"/api/v1/apps/{APP}/releases", 201,
                json={"version": "1.1.0", "rules": {"percentage": 10}, "guard": guard}).json()


def send(env: Env, events: list[dict[str, Any]]) -> None:
    for i in range(0, len(events), 1000):
        r = env.signed_post(batch(env, events[i:i + 1000]))
        assert r.status_code == 200, r.text


def release_row(env: Env, rid: int) -> Release:
    with env.platform.db.read() as s:
        rel = s.get(Release, rid)
        assert rel is not None
        return rel


def stops(env: Env) -> list[AuditEntry]:
    with env.platform.db.read() as s:
        return list(s.execute(select(AuditEntry).where(AuditEntry.action == "release.stop")
                              .order_by(AuditEntry.seq)).scalars())


def test_a_failing_guard_stops_the_gray_release_audits_and_notifies(env: Env, tmp_path: Path,
                                                                       receiver: Receiver) -> None:
    env.platform.notifier = Notifier(receiver.url, SECRET, backoff_s=0.05)
    try:
        released_app(env, tmp_path)
        rel = gray(env)
        assert rel["guard"] == {**GUARD, "baseline": "1.0.0"} and rel["guard_state"] is None

        send(env, sessions("1.0.0", 1000, errors=10))       # the full release: 1% of sessions with an error
        send(env, sessions("1.1.0", 300, errors=3))         # 300 < 500 sessions: wait
        state = rguard.evaluate_guards(env.platform)[rel["id"]]
        assert state["decision"] == "wait" and "300 of 500 sessions" in state["reasons"][0]
        assert release_row(env, rel["id"]).active

        send(env, sessions("1.1.0", 300, errors=3))         # 600 sessions, 1%: passes
        state = rguard.evaluate_guards(env.platform)[rel["id"]]
        assert state["decision"] == "pass" and state["reasons"] == []
        assert state["new"]["sessions"] == 600 and state["old"]["sessions"] == 1000
        assert release_row(env, rel["id"]).active and stops(env) == []
        listed = call(env, "operator", "GET", f"/api/v1/apps/{APP}/releases", 200).json()
        assert next(r for r in listed if r["id"] == rel["id"])["guard_state"]["decision"] == "pass"

        send(env, sessions("1.1.0", 200, errors=120))       # 800 sessions, 126 with errors: 16% > 1.5 x 1%
        # the replica's evaluator thread finds it by itself
        env.platform.guard = rguard.GuardWatcher(env.platform, 0.05).start()
        eventually(lambda: not release_row(env, rel["id"]).active)
        env.platform.guard.stop()

        row = release_row(env, rel["id"])
        assert row.guard_state is not None and row.guard_state["decision"] == "fail"
        entry = stops(env)[-1]
        assert entry.actor == "system" and entry.target == f"app:{APP}"
        why = json.loads(entry.details)["why"]
        assert why["by"] == "guard" and why["guard"] == GUARD and why["baseline"] == "1.0.0"
        assert why["version"] == "1.1.0" and "error rate" in why["reasons"][0]
        assert why["new"]["sessions"] == 800 and why["new"]["error_sessions"] == 126
        assert why["old"]["error_rate"] == pytest.approx(0.01)
        # users return to the full release (re-issued under a higher build), as after an operator's stop
        active = [r for r in call(env, "operator", "GET", f"/api/v1/apps/{APP}/releases", 200).json() if r["active"]]
        assert [(r["version"], r["kind"]) for r in active] == [("1.0.0", "full")]

        # the webhook: first attempt answered 500, retried, delivered once, signed
        headers, body = eventually(receiver.delivered)[0]
        assert len(receiver.requests) == 2 and receiver.requests[0][1] == body
        assert verify(SECRET, body, headers[SIGNATURE_HEADER])
        assert not verify("another secret", body, headers[SIGNATURE_HEADER])
        assert headers[EVENT_HEADER] == "release.guard_stopped"
        assert headers[DELIVERY_HEADER] == receiver.requests[0][0][DELIVERY_HEADER]
        doc = json.loads(body)
        assert doc["event"] == "release.guard_stopped" and doc["app_id"] == APP and doc["release_id"] == rel["id"]
        assert doc["version"] == "1.1.0" and doc["baseline"] == "1.0.0" and "error rate" in doc["reasons"][0]

        # once stopped, nothing more happens
        assert rguard.evaluate_guards(env.platform) == {}
        assert len(stops(env)) == 1
    finally:
        env.platform.notifier.close()


def test_crash_free_below_the_threshold_fails(env: Env, tmp_path: Path) -> None:
    released_app(env, tmp_path)
    rel = gray(env, {"min_sessions": 100, "min_crash_free": 0.99})
    assert rel["guard"] == {"max_error_ratio": 1.5, "min_crash_free": 0.99, "min_sessions": 100, "baseline": "1.0.0"}
    send(env, sessions("1.0.0", 100) + sessions("1.1.0", 100, crashed=1))
    assert rguard.evaluate_guards(env.platform)[rel["id"]]["decision"] == "pass"  # 99% crash-free
    send(env, sessions("1.1.0", 100, crashed=3))                                   # 98%
    state = rguard.evaluate_guards(env.platform)[rel["id"]]
    assert state["decision"] == "fail" and "crash-free" in state["reasons"][0]
    assert not release_row(env, rel["id"]).active


def test_two_replicas_never_both_stop_it(env: Env, tmp_path: Path) -> None:
    released_app(env, tmp_path)
    rel = gray(env, {"min_sessions": 50})
    send(env, sessions("1.0.0", 100, errors=1) + sessions("1.1.0", 100, errors=60))
    other = open_platform(env.platform.settings)
    try:
        results: list[Any] = []
        barrier = threading.Barrier(4)

        def run(p: Any) -> None:
            barrier.wait()
            results.append(rguard.evaluate_release(p, rel["id"]))

        threads = [threading.Thread(target=run, args=(p,)) for p in (env.platform, other, env.platform, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(1 for r in results if r is not None) == 1
        assert [r["decision"] for r in results if r is not None] == ["fail"]
        assert len(stops(env)) == 1 and not release_row(env, rel["id"]).active
    finally:
        other.db.dispose()


def test_the_watcher_skips_a_release_evaluated_lately(env: Env, tmp_path: Path) -> None:
    released_app(env, tmp_path)
    rel = gray(env)
    assert rguard.evaluate_release(env.platform, rel["id"], min_age_s=60)["decision"] == "wait"
    assert rguard.evaluate_release(env.platform, rel["id"], min_age_s=60) is None  # another replica's round
    assert rguard.evaluate_release(env.platform, rel["id"])["decision"] == "wait"


def test_guard_validation(env: Env, tmp_path: Path) -> None:
    url = f"/api/v1/apps/{APP}/releases"
    call(env, "admin", "POST", f"/api/v1/apps/{APP}/members", 200,
         json={"user_id": env.tenant.users["developer"].user_id})
    for v in ("1.0.0", "1.1.0"):
        call(env, "developer", "POST", f"/api/v1/apps/{APP}/versions", 201, data={"version": v, "kind": "source"},
             files={"file": ("src.zip", project_zip(tmp_path, title=v), "application/zip")})
        call(env, "developer", "POST", f"/api/v1/apps/{APP}/versions/{v}/submit", 200, json={})
        call(env, "reviewer", "POST", f"/api/v1/apps/{APP}/versions/{v}/approve", 200, json={})
    gray_body = {"version": "1.1.0", "rules": {"percentage": 5}}
    # nothing to compare with yet
    r = call(env, "operator", "POST", url, 409, json={**gray_body, "guard": GUARD})
    assert r.json()["code"] == "no_baseline"
    call(env, "operator", "POST", url, 201, json={"version": "1.0.0"})
    # a guard on a full release
    r = call(env, "operator", "POST", url, 422, json={"version": "1.1.0", "guard": GUARD})
    assert r.json()["code"] == "invalid_guard"
    for bad in ({"min_crash_free": 1.5}, {"max_error_ratio": 0.5}, {"min_sessions": 0}, {"min_sessions": 1.5},
                {"max_error_ratio": "x"}, {"baseline": "0.9"}, {"window": 3}):
        assert call(env, "operator", "POST", url, json={**gray_body, "guard": bad}).status_code == 422, bad
    with pytest.raises(rguard.InvalidGuard):
        rguard.validate_guard({"min_sessions": True})
    assert rguard.validate_guard({}) == GUARD
    # the guard of the same version as the full release's has nothing to compare
    r = call(env, "operator", "POST", url, 422, json={"version": "1.0.0", "rules": {"percentage": 5}, "guard": GUARD})
    assert r.json()["code"] == "invalid_guard"
    # defaults fill what is left out; the audit entry of the release carries the guard
    rel = call(env, "operator", "POST", url, 201, json={**gray_body, "guard": {"min_sessions": 1000}}).json()
    assert rel["guard"] == {**GUARD, "min_sessions": 1000, "baseline": "1.0.0"}
    with env.platform.db.read() as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.action == "release.gray")).scalars().one()
    assert json.loads(entry.details)["guard"]["min_sessions"] == 1000


def test_a_real_host_running_a_version_that_throws_gets_its_guarded_rollout_stopped(env: Env, tmp_path: Path,
                                                                                    receiver: Receiver) -> None:
    """The issue's end to end: a host runs the mini-program (1.0.0 fine, 1.1.0 throws on a page), uploads its
    telemetry signed over HTTP; the platform's evaluator stops the guarded 10% rollout; the audit says so."""
    from minibox.host import Host, HostConfig
    from minibox.testing import launch

    env.platform.notifier = Notifier(receiver.url, SECRET, backoff_s=0.05)
    released_app(env, tmp_path)
    rel = gray(env, {"min_sessions": 3})
    fine = write_project(tmp_path / "fine", {**PROJECT, "pages/bad/bad.js": "Page({ onLoad() {} })\n"})
    throws = write_project(tmp_path / "throws")
    host = Host(HostConfig(data_dir=tmp_path / "host", host_id=env.host_id,
                           telemetry=env.telemetry_config(flush_interval_s=3600)))
    try:
        for version, project in (("1.0.0", fine), ("1.1.0", throws)):
            host.telemetry.versions[APP] = version
            for user in ("ann", "bo", "cy"):
                mp = launch(project, host=host, app_id=APP, user=f"{user}-{version}")
                try:
                    mp.current_page.query_selector(".go").tap()
                    mp.wait_idle()
                    assert bool(mp.instance.errors) == (version == "1.1.0")
                finally:
                    mp.close()
        out = host.telemetry.upload()
        assert out["pending"] == 0 and out["rejected"] == 0, out
    finally:
        host.close()

    env.platform.guard = rguard.GuardWatcher(env.platform, 0.05).start()
    try:
        eventually(lambda: not release_row(env, rel["id"]).active)
    finally:
        env.platform.guard.stop()
    why = json.loads(stops(env)[-1].details)["why"]
    assert stops(env)[-1].actor == "system" and why["new"]["sessions"] == 3 and why["new"]["error_sessions"] == 3
    assert why["old"]["sessions"] == 3 and why["old"]["error_sessions"] == 0 and "error rate" in why["reasons"][0]
    headers, body = eventually(receiver.delivered)[0]
    assert verify(SECRET, body, headers[SIGNATURE_HEADER]) and json.loads(body)["release_id"] == rel["id"]
    # the errors reached the dashboard figures too
    m = call(env, "operator", "GET", f"/api/v1/apps/{APP}/metrics", 200, params={"version": "1.1.0"}).json()
    assert m["error_rate"] == 1.0 and "bad page blew up" in m["top_errors"][0]["message"]
    env.platform.notifier.close()
