"""The host side of telemetry (issue 11): what a real sandboxed mini-program produces, what it can
not touch, the spool's crash safety and bounds, consent and pseudonyms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from minibox.host import Host, HostConfig
from minibox.host.telemetry import Spool, Telemetry, TelemetryConfig, _Session, error_location
from minibox.runtime.errors import ScriptTimeout
from minibox.testing import launch

APP = "wxhosttel0000001"


def spooled(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / "telemetry" / "spool.jsonl"
    return [e for line in path.read_text().splitlines() for e in json.loads(line)["events"]]


def telemetry_host(tmp_path: Path, **cfg: Any) -> Host:
    return Host(HostConfig(data_dir=tmp_path / "host", telemetry=TelemetryConfig(**cfg)))


def test_the_mini_program_cannot_read_or_forge_telemetry(make_project, tmp_path: Path) -> None:
    project = make_project({"pages/p/p.wxml": "<view>{{r}}</view>", "pages/p/p.js": """
      Page({ data: { r: '' }, onLoad() {
        const out = {};
        out.apis = [typeof wx.setTelemetryConsent, typeof wx.getTelemetryConsent, typeof wx.telemetry,
                    typeof wx['RealtimeLogManager.log'], typeof wx['Performance.getEntries'], typeof wx.reportEvent,
                    typeof wx.getRealtimeLogManager, typeof wx.getPerformance].join(',');
        wx.reportEvent('crash', { k: 'launch', u: 'someone' });   // a custom event named "crash", nothing more
        wx.reportEvent('not a valid id!', {});                    // ignored, no exception
        wx.reportAnalytics('error', { x: 1 });
        wx.getRealtimeLogManager().error({ level: 'crash' });
        // reaching for the framework's internals, if the sandbox lets it at all
        try { if (typeof mbHostCall === 'function') mbHostCall('RealtimeLogManager.log', { level: 'crash', msg: 'x' }); } catch (e) {}
        try { if (typeof mbEmit === 'function') mbEmit({ t: 'crash', kind: 'ScriptOutOfMemory', message: 'forged' }); } catch (e) {}
        try { if (typeof mbEmit === 'function') mbEmit({ t: 'restart' }); } catch (e) {}
        out.perf = JSON.stringify(wx.getPerformance().getEntries());
        this.setData({ r: JSON.stringify(out) });
      } })"""})
    host = telemetry_host(tmp_path)
    try:
        with launch(project, host=host, app_id=APP, user="customer-7") as mp:
            out = json.loads(mp.current_page.data["r"])
            pseudonym = host.telemetry.pseudonym(APP, "customer-7")
    finally:
        host.close()
    assert out["apis"] == "undefined,undefined,undefined,undefined,undefined,function,function,function"
    assert pseudonym not in out["perf"] and "customer-7" not in out["perf"]
    events = spooled(tmp_path / "host")
    kinds = {e["k"] for e in events}
    assert kinds <= {"launch", "page_view", "page_stay", "custom", "log", "session_end"}, kinds
    assert {e["n"] for e in events if e["k"] == "custom"} == {"crash", "error"}
    crash = next(e for e in events if e["n"] == "crash")
    assert crash["d"] == {"src": "reportEvent", "data": {"k": "launch", "u": "someone"}} and crash["u"] == pseudonym
    assert [e["n"] for e in events if e["k"] == "log"] == ["error"]
    assert [e["k"] for e in events].count("launch") == 1 and [e["k"] for e in events].count("session_end") == 1
    assert next(e for e in events if e["k"] == "session_end")["d"]["crashed"] is False
    assert {e["u"] for e in events} == {pseudonym}


def test_api_outcomes_granted_denied_failed(make_project, tmp_path: Path) -> None:
    project = make_project({"pages/p/p.wxml": "<view/>", "pages/p/p.js": """
      Page({ onLoad() {
        wx.setStorageSync('a', 1); wx.setStorageSync('b', 2);
        try { wx.getStorageSync('missing-key-here'); } catch (e) {}
        wx.getStorage({ key: 'nope' });
        wx.getLocation({ type: 'wgs84' });
      } })""", "app.json": {"pages": ["pages/p/p"], "requiredPrivateInfos": ["getLocation"],
                               "permission": {"scope.userLocation": {"desc": "to find a branch"}}}})
    host = telemetry_host(tmp_path)
    try:
        with launch(project, host=host, app_id=APP) as mp:
            mp.wait_idle()
    finally:
        host.close()
    calls = {(e["n"], e["d"]["o"]): e["d"]["c"] for e in spooled(tmp_path / "host") if e["k"] == "api"}
    assert calls[("setStorageSync", "granted")] == 2
    assert calls[("getStorage", "failed")] == 1
    assert calls[("getLocation", "denied")] == 1  # the host's consent callback is unset: deny


def test_a_watchdog_kill_is_a_crashed_session_and_the_restart_a_new_one(make_project, tmp_path: Path) -> None:
    project = make_project({"pages/p/p.wxml": "<view bindtap='spin'>x</view>",
                            "pages/p/p.js": "Page({ spin() { for (;;) {} } })"})
    host = telemetry_host(tmp_path)
    try:
        with launch(project, host=host, app_id=APP, cpu_budget=0.5) as mp:
            with pytest.raises(ScriptTimeout):
                mp.current_page.query_selector("view").trigger("tap")
            mp.instance.restart()
    finally:
        host.close()
    events = spooled(tmp_path / "host")
    crashes = [e for e in events if e["k"] == "crash"]
    assert len(crashes) == 1 and crashes[0]["n"] == "ScriptTimeout"
    ends = [e for e in events if e["k"] == "session_end"]
    assert [e["d"]["crashed"] for e in ends] == [True, False]
    assert len({e["s"] for e in ends}) == 2
    assert [e["k"] for e in events].count("launch") == 2


def test_payment_outcomes_from_the_api_answer(tmp_path: Path) -> None:
    tel = Telemetry(tmp_path, "h", b"k" * 32)
    s = _Session(tel, APP, "1.0.0", tel.pseudonym(APP, "u"), "u")
    s.on_api("requestPayment", "granted", "")
    s.on_api("requestPayment", "failed", "requestPayment:fail cancel")
    s.on_api("requestPayment", "denied", "requestPayment:fail risk control refused")
    tel.flush()
    got = [(e["k"], e["n"]) for e in spooled(tmp_path)]
    assert [n for k, n in got if k == "payment"] == ["ok", "cancel", "refused"]
    assert ("api", "requestPayment") in got


def test_consent_off_records_nothing_for_that_user_and_is_kept(tmp_path: Path) -> None:
    tel = Telemetry(tmp_path, "h", b"k" * 32)
    tel.set_consent("bob", False)
    for user in ("alice", "bob"):
        s = _Session(tel, APP, "1.0.0", tel.pseudonym(APP, user), user)
        s.emit("custom", "x")
        tel.count_api(s, "getStorageSync", "granted")
    tel.flush()
    assert {e["u"] for e in spooled(tmp_path)} == {tel.pseudonym(APP, "alice")}
    again = Telemetry(tmp_path, "h", b"k" * 32)
    assert again.consent.get("bob") is False and again.consent.get("alice") is True
    again.set_consent("bob", True)
    assert Telemetry(tmp_path, "h", b"k" * 32).consent.get("bob") is True


def test_pseudonyms_are_per_app_and_keyed_by_the_host_secret(tmp_path: Path) -> None:
    a = Telemetry(tmp_path / "a", "h", b"k" * 32)
    b = Telemetry(tmp_path / "b", "h", b"j" * 32)
    shared = Telemetry(tmp_path / "c", "h", b"x" * 32, TelemetryConfig(secret=b"s" * 32))
    assert a.pseudonym(APP, "u1") == a.pseudonym(APP, "u1")
    assert a.pseudonym(APP, "u1") != a.pseudonym("wxother", "u1") != a.pseudonym(APP, "u2")
    assert a.pseudonym(APP, "u1") != b.pseudonym(APP, "u1")
    assert shared.pseudonym(APP, "u1") == Telemetry(tmp_path / "d", "h2", b"y" * 32,
                                                    TelemetryConfig(secret=b"s" * 32)).pseudonym(APP, "u1")
    assert len(a.pseudonym(APP, "u1")) == 32 and "u1" not in a.pseudonym(APP, "u1")


def test_spool_cuts_a_torn_tail_skips_acked_and_compacts(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    for i in range(3):
        assert spool.append(f"{i:032x}", json.dumps({"batch_id": f"{i:032x}", "events": []}).encode())
    spool.ack(f"{0:032x}")
    with open(spool.path, "ab") as f:
        f.write(b'{"batch_id": "torn')
    again = Spool(tmp_path, 1 << 20)
    assert list(again.pending) == [f"{1:032x}", f"{2:032x}"]
    assert again.path.read_bytes().endswith(b"}\n")  # the torn tail is gone
    again.ack(f"{1:032x}")
    again.ack(f"{2:032x}")
    assert again.path.stat().st_size == 0 and again.ack_path.stat().st_size == 0
    assert Spool(tmp_path, 1 << 20).pending == {}


def test_memory_and_disk_are_bounded(tmp_path: Path) -> None:
    tel = Telemetry(tmp_path, "h", b"k" * 32, TelemetryConfig(max_buffer=10, batch_size=1000,
                                                              max_spool_bytes=3000))
    s = _Session(tel, APP, "1.0.0", tel.pseudonym(APP, "u"), "u")
    for i in range(25):
        s.emit("custom", f"e{i}")
    assert len(tel._buffer) == 10 and tel.dropped == 15
    assert tel.flush() == 10
    for _ in range(20):
        for i in range(10):
            s.emit("custom", f"x{i}")
        tel.flush()
    assert tel.spool.size <= 3000
    assert tel.dropped > 0 or tel.dropped_total > 15
    bodies = [json.loads(b) for _, b in tel.spool.unsent()]
    assert bodies[0]["dropped"] == 15  # the platform hears how many were dropped


def test_error_location_keeps_the_mini_programs_own_frames() -> None:
    stack = ("    at boom (pages/bad/bad.js:6:15)\n    at onLoad (utils/x.js:3:10)\n    at apply (native)\n"
             "    at <anonymous> (<input>:165:60)\n    at mbGuard (framework/03_component.js:277:20)\n")
    assert error_location(stack) == ("pages/bad/bad.js:6:15", ["pages/bad/bad.js:6:15", "utils/x.js:3:10"])
    assert error_location("at f (utils/y.js:4)") == ("utils/y.js:4", ["utils/y.js:4"])  # no column: none sent
    assert error_location("") == ("", [])


def test_performance_observer_and_realtime_log_manager(make_project, tmp_path: Path) -> None:
    project = make_project({"pages/p/p.wxml": "<view>{{r}}</view>", "pages/p/p.js": """
      Page({ data: { r: '' }, onLoad() {
        const perf = wx.getPerformance(), seen = [];
        perf.createObserver((list) => {
          seen.push(list.getEntries().map((e) => e.name).join('+'));
          const launchEntry = perf.getEntriesByName('appLaunch', 'navigation')[0];
          this.setData({ r: seen.join('|') + ';' + (launchEntry.duration > 0) });
        }).observe({ entryTypes: ['navigation', 'render'] });
        const log = wx.getRealtimeLogManager();
        log.setFilterMsg('checkout');
        log.addFilterMsg('v2');
        log.warn('slow', { a: 1 });
        log.in(this).error('x');
      } })"""})
    host = telemetry_host(tmp_path)
    try:
        with launch(project, host=host, app_id=APP) as mp:
            mp.wait_idle()
            assert mp.current_page.data["r"] == "appLaunch+firstRender+route;true"
            assert not mp.errors
    finally:
        host.close()
    logs = [(e["n"], e["d"]) for e in spooled(tmp_path / "host") if e["k"] == "log"]
    assert logs == [("warn", {"msg": 'slow {"a":1}', "filters": ["checkout", "v2"]}),
                    ("error", {"msg": "x", "filters": ["checkout", "v2"]})]


def test_consent_withdrawn_drops_what_is_still_buffered_and_data_is_capped(tmp_path: Path) -> None:
    tel = Telemetry(tmp_path, "h", b"k" * 32)
    carol = _Session(tel, APP, "1.0.0", tel.pseudonym(APP, "carol"), "carol")
    carol.emit("custom", "before")
    tel.count_api(carol, "getStorageSync", "granted")
    carol.end()
    dave = _Session(tel, APP, "1.0.0", tel.pseudonym(APP, "dave"), "dave")
    dave.emit("custom", "big", {"data": {f"k{i}": "v" * 5000 for i in range(30)}})
    tel.set_consent("carol", False)
    tel.flush()
    events = spooled(tmp_path)
    assert {e["u"] for e in events} == {tel.pseudonym(APP, "dave")}
    assert events[0]["d"] == {"truncated": True}
    from minibox.host.telemetry import sanitize_custom

    clean = sanitize_custom({f"key-{i}" * 10: "v" * 500 for i in range(40)} | {"n": float("nan"), "ok": True})
    assert len(clean) == 20 and all(len(k) <= 32 and len(v) <= 100 for k, v in clean.items())
    assert len(json.dumps(clean)) < 3500
