"""Issue 15: hostile inputs end with a clear, WeChat-shaped error, never a dead worker or a stalled
host. Each case runs hostile code in a real sandboxed instance, asserts the error the mini-program
sees, and that the host and a neighbour instance (another app, same host) are still healthy.

No timing assertions here: the neighbour's latency under each flood is a figure of
`bench/security_scorecard.py`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from minibox.apis.budget import DEFAULT_RATES, BudgetConfig, Meter, Rate, family_of
from minibox.host import Host, HostConfig
from minibox.policy import AppGrants
from minibox.policy.storage import Owner, QuotaExceeded, StorageService
from minibox.policy.urlpolicy import SPECIAL_PURPOSE, AddressRefused, vet_address
from minibox.runtime import protocol
from minibox.runtime.errors import ScriptTimeout, WorkerCrashed
from minibox.runtime.sandbox import InstanceOverBudget
from minibox.testing import MiniProgram, launch

from .conftest import MapResolver

ATTACKER = "wxattacker000000"
NEIGHBOUR = "wxneighbour00000"
#: A Python exception's class name in an errMsg is a leak of host internals.
PY_EXCEPTION = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception|Exit|Interrupt)\b|Traceback|host error")
#: WeChat's error shape: "<api>:fail <reason>".
WECHAT_FAIL = re.compile(r"^[A-Za-z][A-Za-z0-9]*:fail( |$)")

ATTACKS: dict[str, str] = {
    # ---- bridge parsing: messages the engine can build, none of which may kill the worker ----
    "deep_raw": """
        const deep = '['.repeat(200000) + ']'.repeat(200000);
        return JSON.parse(__host_call('{"api":"getStorageSync","args":{"key":' + deep + '}}')).err.errMsg""",
    "deep_shim_sync": """
        let a = []; for (let i = 0; i < 200000; i++) a = [a];
        try { wx.setStorageSync('deep', a); return 'stored' } catch (e) { return e.message }""",
    "deep_shim_async": """
        let a = {}; for (let i = 0; i < 200000; i++) a = {a};
        wx.setStorage({ key: 'deep', data: a, fail: (e) => this.setData({ r: e.errMsg }) })""",
    "circular_shim": """
        const a = {}; a.self = a;
        try { wx.setStorageSync('c', a); return 'stored' } catch (e) { return e.message }""",
    "big_raw": """
        const big = 'x'.repeat(100 * 1024 * 1024);
        return JSON.parse(__host_call('{"api":"setStorageSync","args":{"key":"b","data":"' + big + '"}}')).err.errMsg""",
    "big_shim": """
        const big = 'x'.repeat(100 * 1024 * 1024);
        try { wx.setStorageSync('b', big); return 'stored' } catch (e) { return e.message }""",
    "rope_and_surrogates_raw": """
        const out = [];
        // a rope (two long halves) and a lone surrogate: strings the binding could not convert
        const rope = '{"api":"getStorageSync","args":{"key":"' + 'a'.repeat(3000) + '"' + ' '.repeat(3000) + '}}';
        out.push(JSON.parse(__host_call(rope)).err.errMsg);
        out.push(JSON.parse(__host_call('{"api":"getStorageSync","args":{"key":"\\ud800"}}')).err.errMsg);
        out.push(JSON.parse(__host_call(42)).err.errMsg);
        out.push(JSON.parse(__host_call({ toString() { return '{}' } })).err.errMsg);
        return out""",
    "bridge_is_locked": """
        const d = Object.getOwnPropertyDescriptor(globalThis, '__host_call');
        let replaced = true;
        try { globalThis.__host_call = () => 'x' } catch (e) { replaced = false }
        return [typeof globalThis.__mb_raw_host_call, d.writable, d.configurable, replaced && __host_call() === 'x']""",
    # ---- host exception names never reach the mini-program ----
    "surrogate_key": """
        wx.setStorageSync('\\ud800', 'lone');
        return [wx.getStorageSync('\\ud800'), wx.getStorageInfoSync().keys.indexOf('\\ud800') >= 0]""",
    "error_catalogue": """
        const out = [];
        const fs = wx.getFileSystemManager();
        const tries = [
          () => wx.setStorageSync('\\udfff\\ud800', { v: '\\ud800' }),
          () => wx.getStorageSync('\\ud800\\ud800missing'),
          () => fs.writeFileSync('wxfile://usr/\\ud800.txt', 'x'),
          () => fs.readFileSync('wxfile://usr/\\ud800'),
          () => fs.writeFileSync('wxfile://usr/a\\u0000b', 'x'),
          () => fs.mkdirSync('wxfile://usr/' + 'd/'.repeat(3000)),
          () => fs.readFileSync('/etc/passwd'),
          () => fs.writeFileSync('wxfile://usr/x', { not: 'data' }),
          () => fs.readFileSync('wxfile://usr/x', 'no-such-encoding'),
          () => wx.batchSetStorageSync([{ key: 1 }]),
          () => wx.batchGetStorageSync(['\\ud800', 5]),
          () => wx.setStorageSync('n', NaN),
          () => wx.setStorageSync(undefined, 1),
          () => wx.setStorageSync('k', 'x'.repeat(1024 * 1024)),
        ];
        for (const t of tries) { try { t(); out.push('ok') } catch (e) { out.push(e.message) } }
        return out""",
    "error_catalogue_async": """
        const out = [];
        const done = (e) => { out.push(e.errMsg); if (out.length === 4) this.setData({ r: out }) };
        wx.request({ url: 'https://\\ud800.example/', fail: done });
        wx.request({ url: 'https://good.test/', header: { 'X\\ud800': '1' }, fail: done });
        wx.connectSocket({ url: 'wss://\\ud800/', fail: done });
        wx.downloadFile({ url: 'https://x.test/' + '\\ud800', fail: done })""",
    # ---- a getter in API arguments is read once, before any check ----
    "getter_once": """
        const reads = { request: 0, storage: 0, sync: 0, proxy: 0 };
        wx.request({ get url() { reads.request++; return reads.request === 1 ? 'https://good.test/' : 'https://evil.test/' },
                     fail() {} });
        wx.setStorage({ get key() { reads.storage++; return 'g' + reads.storage }, data: 1 });
        wx.getFileSystemManager().writeFile({ get filePath() { reads.sync++; return 'wxfile://usr/g' + reads.sync }, data: 'x' });
        const target = { key: 'p', data: 2 };
        wx.setStorage(new Proxy(target, { get(t, k) { if (k === 'key') reads.proxy++; return t[k] } }));
        return reads""",
    "getter_once_stored": """
        return [wx.getStorageInfoSync().keys.filter(k => /^(g\\d|p)$/.test(k)).sort(),
                wx.getFileSystemManager().readdirSync('wxfile://usr').filter(f => /^g\\d$/.test(f))]""",
    # ---- host time: floods end in fail errors or a stopped instance ----
    "timer_flood": """
        for (let i = 0; i < 10000; i++) setInterval(() => {}, 0); return 'armed'""",
    "storage_flood": """
        let i = 0;
        try { for (; i < 20000; i++) wx.setStorageSync('f' + i, i) } catch (e) { return [i, e.message] }
        return [i, 'no error']""",
    "storage_flood_caught": """
        let ok = 0; const errors = {};
        for (let i = 0; i < 3000; i++) {
          try { wx.setStorageSync('c' + i, i); ok++ } catch (e) { errors[e.message] = (errors[e.message] || 0) + 1 }
        }
        return [ok, errors]""",
    "call_loop_forever": """
        for (;;) { try { wx.getStorageSync('nothing') } catch (e) {} }""",
    "quota_big_keys": """
        // keys count toward the quota: 100 kB keys with empty values reach 10 MB at key ~103
        let i = 0;
        try { for (; i < 200; i++) wx.setStorageSync(String(i).padStart(100 * 1024, 'k'), '') }
        catch (e) { return [i, e.message, wx.getStorageInfoSync().currentSize] }
        return [i, 'no error']""",
    # ---- two apps side by side: the attacker goes after the neighbour's storage, files, timers ----
    "cross_app": """
        const out = [];
        const fs = wx.getFileSystemManager();
        for (const k of ['secret', 'wxneighbour00000:secret', '../wxneighbour00000/secret', 'secret\\u0000']) {
          out.push(wx.getStorageSync(k));
        }
        wx.setStorageSync('secret', 'overwritten by the attacker');
        for (const p of ['wxfile://usr/../../wxneighbour00000/usr/n.txt', 'wxfile://../wxneighbour00000/usr/n.txt',
                         '/' + 'wxneighbour00000/usr/n.txt', 'wxfile://usr/n.txt']) {
          try { out.push(fs.readFileSync(p, 'utf8')) } catch (e) { out.push(e.message) }
        }
        // timer ids are per sandbox: clearing "the neighbour's" ids touches nothing of theirs
        for (let id = 0; id < 1000; id++) { clearInterval(id); clearTimeout(id) }
        return out""",
    "fetch_getter": """
        const [good, evil] = arguments;
        let reads = 0;
        wx.request({ get url() { reads++; return reads === 1 ? good : evil },
                     success: (r) => this.setData({ r: ['ok', r.data.path, reads] }),
                     fail: (e) => this.setData({ r: ['fail', e.errMsg, reads] }) })""",
    # ---- network through the sandbox (grants and resolver set by the test) ----
    "fetch": """
        const [url] = arguments;
        wx.request({ url, success: (r) => this.setData({ r: ['ok', r.statusCode, r.data && r.data.path] }),
                     fail: (e) => this.setData({ r: ['fail', e.errMsg] }) })""",
}

NEIGHBOUR_JS = """Page({
  data: { ticks: 0 },
  onLoad() { setInterval(() => this.setData({ ticks: this.data.ticks + 1 }), 1000) },
  ping(n) { wx.setStorageSync('ping', n); return wx.getStorageSync('ping') },
  readSecret() { return wx.getStorageSync('secret') },
  readFile() { return wx.getFileSystemManager().readFileSync('wxfile://usr/n.txt', 'utf8') },
})"""


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tests.conftest import write_project

    root = tmp_path_factory.mktemp("hardening")
    methods = ",\n".join(f"  {name}() {{ {body} }}" for name, body in ATTACKS.items())
    attacker = write_project(root / "attacker", {
        "pages/p/p.wxml": "<view>{{r}}</view>",
        "pages/p/p.js": "Page({\n  data: { r: null },\n" + methods + "\n})",
    })
    neighbour = write_project(root / "neighbour", {"pages/n/n.wxml": "<view>{{ticks}}</view>",
                                                   "pages/n/n.js": NEIGHBOUR_JS})
    wxs = write_project(root / "wxs", {
        "pages/w/w.wxml": ('<wxs module="m">\nvar re = getRegExp("^(a+)+$");\n'
                           'module.exports.t = function (s) { return re.test(s) ? "match" : "no" };\n'
                           '</wxs><view>{{m.t(s)}}</view>'),
        "pages/w/w.js": "Page({ data: { s: 'aaa' }, evil() { this.setData({ s: 'a'.repeat(40) + '!' }) } })",
    })
    return {"attacker": attacker, "neighbour": neighbour, "wxs": wxs}


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    h = Host(HostConfig(data_dir=tmp_path_factory.mktemp("host")))
    yield h
    h.close()


@pytest.fixture(scope="module")
def neighbour(host: Host, apps: dict[str, Path]) -> Iterator[MiniProgram]:
    with launch(apps["neighbour"], host=host, app_id=NEIGHBOUR, user="alice") as mp:
        mp.current_page.call_method("ping", 0)
        mp.instance.command("callWx", {"name": "setStorageSync", "args": ["secret", {"pin": "1234"}]})
        fs = "FileSystemManager.writeFile"
        mp.instance.registry.call(mp.instance.ctx, fs, {"filePath": "wxfile://usr/n.txt", "data": "neighbour"})
        yield mp


_pings = iter(range(1, 1_000_000))
_users = iter(range(1, 1_000_000))


def healthy(host: Host, neighbour: MiniProgram) -> None:
    """The host answers, and the neighbour instance still runs, stores and reads."""
    n = next(_pings)
    assert neighbour.instance.alive
    assert neighbour.current_page.call_method("ping", n) == n
    assert neighbour.current_page.call_method("readSecret") == {"pin": "1234"}
    assert neighbour.current_page.call_method("readFile") == "neighbour"
    ticks = neighbour.current_page.data["ticks"]
    neighbour.instance.advance(2000)
    assert neighbour.current_page.data["ticks"] >= ticks + 2  # its timers keep firing
    probe = Owner(host.config.host_id, "wxhostprobe00000", "probe")
    host.storage.set(probe, "alive", n)
    assert host.storage.get(probe, "alive") == n


def wechat_fail(msg: Any, api: str | None = None) -> str:
    assert isinstance(msg, str), msg
    assert WECHAT_FAIL.match(msg), msg
    assert not PY_EXCEPTION.search(msg), msg
    if api is not None:
        assert msg.startswith(f"{api}:fail "), msg
    return msg


@pytest.fixture
def attacker(host: Host, apps: dict[str, Path], neighbour: MiniProgram) -> Iterator[MiniProgram]:
    # a user of its own per test: storage written by one case never shapes the next
    with launch(apps["attacker"], host=host, app_id=ATTACKER, user=f"mallory-{next(_users)}") as mp:
        yield mp
    healthy(host, neighbour)


def run(mp: MiniProgram, name: str, *args: Any) -> Any:
    out = mp.current_page.call_method(name, *args)
    assert mp.instance.alive, f"{name}: the worker died"
    return out


# ---- 1. bridge parsing --------------------------------------------------------------------------
def test_200000_deep_raw_message_is_a_fail_not_a_dead_worker(attacker):
    msg = wechat_fail(run(attacker, "deep_raw"), "getStorageSync")
    assert "nested deeper than" in msg


def test_200000_deep_arguments_are_a_catchable_fail(attacker):
    msg = wechat_fail(run(attacker, "deep_shim_sync"), "setStorageSync")
    assert msg.startswith("setStorageSync:fail parameter error: data nested deeper than")
    run(attacker, "deep_shim_async")
    assert wechat_fail(attacker.current_page.data["r"], "setStorage")
    assert "nested deeper" in wechat_fail(run(attacker, "circular_shim"), "setStorageSync")


def test_100_mb_string_is_a_catchable_fail(attacker):
    assert "bridge limit" in wechat_fail(run(attacker, "big_raw"), "setStorageSync")
    assert "bridge limit" in wechat_fail(run(attacker, "big_shim"), "setStorageSync")


def test_strings_the_binding_cannot_convert_never_reach_python(attacker):
    out = run(attacker, "rope_and_surrogates_raw")
    assert out[0] == "getStorageSync:fail data not found"  # the rope crossed, flattened
    assert out[1] == "getStorageSync:fail data not found"  # the lone surrogate crossed too
    assert out[2:] == ["bridge:fail malformed call", "bridge:fail malformed call"]


def test_the_raw_bridge_is_out_of_reach(attacker):
    assert run(attacker, "bridge_is_locked") == ["undefined", False, False, False]


@pytest.mark.parametrize("body", [b"[" * 600 + b"]" * 600, b'{"a":' * 600 + b"1" + b"}" * 600])
def test_host_refuses_too_deep_frames_before_parsing(body):
    with pytest.raises(protocol.FrameError, match="nested deeper"):
        protocol.loads(body)
    with pytest.raises(protocol.FrameError, match="nested deeper"):
        protocol.encode(json.loads(body))
    assert protocol.loads(b"[" * 100 + b"]" * 100) is not None
    assert protocol.loads(json.dumps({"s": "[" * 5000}).encode()) == {"s": "[" * 5000}


def test_host_kills_a_worker_that_sends_a_too_deep_frame():
    """A compromised worker's frame is checked before parsing: a protocol error, never a
    RecursionError in the host."""
    import os
    import time

    from minibox.runtime.errors import WorkerProtocolError
    from minibox.runtime.sandbox import _FrameReader

    r, w = os.pipe()
    try:
        for body in (b"[" * 600 + b"]" * 600, b"[1," * 10 + b"x"):  # small: the pipe has no reader yet
            os.write(w, len(body).to_bytes(4, "big") + body)
            with pytest.raises(WorkerProtocolError, match="bad frame"):
                _FrameReader(r).read(lambda: time.monotonic() + 5)
    finally:
        os.close(r)
        os.close(w)


def test_worker_checks_a_call_before_parsing_it():
    import io

    from minibox.runtime.worker import Worker

    worker = Worker(io.BytesIO(), io.BytesIO())
    deep = '{"api":"setStorageSync","args":{"data":' + "[" * 1000 + "]" * 1000 + "}}"
    assert json.loads(worker.host_call(deep))["err"]["errMsg"].startswith(
        "setStorageSync:fail parameter error: message nested deeper than")
    huge = '{"api":"setStorageSync","args":{"data":"' + "x" * (protocol.MAX_CALL_CHARS + 1) + '"}}'
    assert "exceeds the limit" in json.loads(worker.host_call(huge))["err"]["errMsg"]
    assert json.loads(worker.host_call("{"))["err"]["errMsg"] == "bridge:fail malformed call"
    assert worker.out.getvalue() == b""  # nothing reached the host


def test_depth_check_counts_nesting_not_brackets_in_strings():
    assert not protocol.json_depth_exceeds(json.dumps(["[" * 1000, "{" * 1000, '\\"[[[' * 500]), 3)
    assert protocol.json_depth_exceeds("[" * 4 + "]" * 4, 3)
    wide = "[" + ",".join(["[[1,[2]],{\"a\":[3]}]"] * 50_000) + "]"
    assert not protocol.json_depth_exceeds(wide, 4) and protocol.json_depth_exceeds(wide, 3)


# ---- 2. host exception names never reach the mini-program ---------------------------------------
def test_lone_surrogate_storage_key_round_trips(attacker):
    assert run(attacker, "surrogate_key") == ["lone", True]


def test_no_python_exception_name_in_any_errmsg(attacker):
    out = run(attacker, "error_catalogue")
    fails = [wechat_fail(m) for m in out if m != "ok"]
    assert len(fails) >= 10, out
    assert not any("internal error" in m for m in fails), out  # each failure names its reason


def test_no_python_exception_name_in_async_errmsgs(host, apps, neighbour):
    host.grants["wxattackerasync0"] = AppGrants.build(request=["https://good.test"])
    with launch(apps["attacker"], host=host, app_id="wxattackerasync0", user="mallory") as mp:
        mp.current_page.call_method("error_catalogue_async")
        out = mp.current_page.data["r"]
        assert out and len(out) == 4
        for m in out:
            wechat_fail(m)
    healthy(host, neighbour)


# ---- 3. a getter is read once; the value checked is the value used ------------------------------
def test_getters_in_arguments_run_once(attacker):
    assert run(attacker, "getter_once") == {"request": 1, "storage": 1, "sync": 1, "proxy": 1}
    keys, files = run(attacker, "getter_once_stored")
    assert keys == ["g1", "p"] and files == ["g1"]


# ---- 4. host time is metered ---------------------------------------------------------------------
def test_timer_flood_stops_the_instance(attacker):
    with pytest.raises(InstanceOverBudget, match="timer flood"):
        attacker.current_page.call_method("timer_flood")
    assert not attacker.instance.alive
    assert attacker.instance.crashed is not None
    attacker.instance.restart()  # a fresh worker, a fresh budget
    assert attacker.instance.alive


def test_storage_write_flood_ends_in_fail_errors(attacker):
    # the default rate (500 at once, then 100 a second) with a smaller burst, so that the case does
    # not depend on how fast this machine's disk syncs (a write slower than 10 ms never runs out)
    attacker.instance.meter = Meter(BudgetConfig(rates={**DEFAULT_RATES, "storage.write": Rate(1, 200)}))
    written, msg = run(attacker, "storage_flood")
    assert msg == "setStorageSync:fail api called too frequently"
    assert 0 < written < 20000
    ok, errors = run(attacker, "storage_flood_caught")
    assert ok < 3000 and set(errors) == {"setStorageSync:fail api called too frequently"}


def test_a_loop_of_calls_is_stopped_by_the_time_budget(attacker):
    attacker.instance.meter = Meter(BudgetConfig(burst_s=0.3, share=0.1))
    with pytest.raises(InstanceOverBudget, match="time budget"):
        attacker.current_page.call_method("call_loop_forever")
    assert not attacker.instance.alive
    with pytest.raises(WorkerCrashed, match="instance is stopped"):
        attacker.current_page.call_method("ping")


def test_meter_buckets_and_families():
    assert family_of("setStorageSync") == "storage.write" and family_of("getStorage") == "storage.read"
    assert family_of("FileSystemManager.writeFileSync") == "files" and family_of("SocketTask.send") == "network"
    assert family_of("showToast") == "other"
    m = Meter(BudgetConfig(rates={"storage.write": Rate(per_second=0.0, burst=3)}))
    assert [m.admit("setStorageSync") for _ in range(4)] == [True, True, True, False]
    assert m.admit("getStorageSync")  # another family, its own bucket
    assert m.refused == {"storage.write": 1}
    assert not Meter(BudgetConfig(burst_s=1.0, share=0.0)).charge(engine_s=0.6, host_s=0.6)
    assert Meter(BudgetConfig(enabled=False)).charge(engine_s=100.0)


# ---- 5. storage quota counts keys and values, and holds under a loop -----------------------------
def test_quota_counts_keys_in_the_sandbox(host, apps, neighbour):
    with launch(apps["attacker"], host=host, app_id=ATTACKER, user="quota-user") as mp:
        written, msg, size_kb = run(mp, "quota_big_keys")
        assert msg == "setStorageSync:fail exceed storage max size 10Mb"
        assert 90 < written < 110 and size_kb <= 10240
        assert mp.instance.alive
    healthy(host, neighbour)


@pytest.mark.parametrize("key_len,value", [(8, "x" * 1000), (4096, ""), (1, 0)])
def test_many_small_keys_hit_the_quota(tmp_path, key_len, value):
    s = StorageService(tmp_path / "s.db", b"k" * 32, max_total=200_000, max_keys=1000)
    o = Owner("h", "a", "u")
    n = 0
    with pytest.raises(QuotaExceeded):
        for n in range(100_000):
            s.set(o, str(n).rjust(key_len, "k"), value)
    info = s.info(o)
    used = sum(len(k.encode()) + len(json.dumps(s.get(o, k)).encode()) for k in info["keys"])
    assert used <= 200_000 and len(info["keys"]) <= 1000 and len(info["keys"]) == n
    # the usage counter follows overwrites, removals and clear
    first = info["keys"][0]
    s.remove(o, first)
    s.set(o, first, value)
    with pytest.raises(QuotaExceeded):
        s.set(o, "one-more-key" * 400, "x" * 10_000)
    s.clear(o)
    s.set(o, "after-clear", "x" * 150_000)
    assert s.info(o)["keys"] == ["after-clear"]
    s.close()


def test_quota_holds_under_concurrent_writers(tmp_path):
    """Two connections (two instances of one app and user) writing in loops never overshoot."""
    import threading

    o = Owner("h", "a", "u")
    services = [StorageService(tmp_path / "s.db", b"k" * 32, max_total=50_000) for _ in range(2)]
    refused = [0, 0]

    def writer(i: int) -> None:
        for n in range(150):
            try:
                services[i].set(o, f"w{i}-{n}", "x" * 500)
            except QuotaExceeded:
                refused[i] += 1

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    info = services[0].info(o)
    used = sum(len(k.encode()) + len(json.dumps(services[0].get(o, k)).encode()) for k in info["keys"])
    assert used <= 50_000 and refused[0] + refused[1] > 0
    assert len(info["keys"]) + refused[0] + refused[1] == 300
    for svc in services:
        svc.close()


def test_quota_counter_survives_a_database_from_before_it(tmp_path):
    s = StorageService(tmp_path / "s.db", b"k" * 32, max_total=10_000)
    o = Owner("h", "a", "u")
    for i in range(9):
        s.set(o, f"k{i}", "x" * 1000)
    s._db.execute("DELETE FROM kv_usage")  # as if written before kv_usage existed
    with pytest.raises(QuotaExceeded):
        s.set(o, "k9", "x" * 1000)
    s.set(o, "k0", "small")
    s.close()


# ---- 6. one table of special-purpose addresses ---------------------------------------------------
BRIEF_BLOCKS = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
                "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
                "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
                "::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23",
                "2001::/32", "2001:2::/48", "2001:db8::/32", "2002::/16", "fc00::/7", "fe80::/10", "ff00::/8",
                "192.31.196.0/24", "192.52.193.0/24", "192.175.48.0/24", "2001:3::/32", "2001:4:112::/48",
                "2001:20::/28", "2620:4f:8000::/48", "3fff::/20", "5f00::/16"]


@pytest.mark.parametrize("block", BRIEF_BLOCKS)
def test_every_special_purpose_block_is_in_the_table_and_refused(block):
    net = ipaddress.ip_network(block)
    assert any(net.version == t.version and net.subnet_of(t) for t, _r, _a in SPECIAL_PURPOSE), block
    for addr in {net.network_address, net.broadcast_address, net.network_address + (net.num_addresses // 2)}:
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            continue  # judged as the IPv4 address it is (next test)
        with pytest.raises(AddressRefused):
            vet_address(str(addr))


TEREDO_AND_EMBEDDED = [
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",   # Teredo carrying a public IPv4 address
    "2001:0:53aa:64c:0:0:f7f7:f7f7",          # Teredo carrying 8.8.8.8 (XORed)
    "2001::1", "2002:808:808::1",             # Teredo, 6to4 of 8.8.8.8
    "64:ff9b::808:808", "64:ff9b:1::808:808",  # NAT64 of 8.8.8.8
    "::808:808", "::ffff:127.0.0.1", "::ffff:a9fe:a9fe", "::ffff:10.0.0.1", "2002:a9fe:a9fe::1",
]


@pytest.mark.parametrize("addr", TEREDO_AND_EMBEDDED)
def test_teredo_and_embedded_ipv4_refused(addr):
    with pytest.raises(AddressRefused):
        vet_address(addr)


def test_embedded_metadata_refused_even_in_allowed_networks():
    everything = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
    for addr in ["64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1", "::ffff:169.254.169.254", "::a9fe:a9fe"]:
        with pytest.raises(AddressRefused, match="always-blocked"):
            vet_address(addr, everything)
    assert str(vet_address("::ffff:8.8.8.8")) == "8.8.8.8"
    assert str(vet_address("2001:4860:4860::8888")) == "2001:4860:4860::8888"


# ---- 7. two apps side by side --------------------------------------------------------------------
def test_attacker_app_cannot_reach_the_neighbours_storage_files_or_timers(host, attacker, neighbour):
    ticks = neighbour.current_page.data["ticks"]
    out = run(attacker, "cross_app")
    assert out[:4] == ["", "", "", ""]  # four spellings of the neighbour's key: nothing
    for msg in out[4:]:
        assert msg != "neighbour"
        wechat_fail(msg, "readFileSync")
    assert neighbour.current_page.call_method("readSecret") == {"pin": "1234"}
    neighbour.instance.advance(3000)
    assert neighbour.current_page.data["ticks"] >= ticks + 3


# ---- 8. redirects and DNS rebinding against a live TLS server, through the sandbox --------------
@pytest.fixture
def net_host(tmp_path, pki, tls_server) -> Iterator[tuple[Host, MapResolver, int]]:
    resolver = MapResolver({"good.test": [["127.0.0.1"]], "api.good.test": [["127.0.0.1"]],
                            "other.test": [["127.0.0.1"]], "evil.test": [["10.0.0.1"]]})
    h = Host(HostConfig(data_dir=tmp_path / "net", resolver=resolver, ssl_context=pki.client_context()))
    p = tls_server.port
    h.grants["wxnetattack00000"] = AppGrants.build(
        request=[f"https://good.test:{p}", f"https://evil.test:{p}", f"https://api.good.test:{p}"],
        allowed_networks=["127.0.0.0/8"])
    yield h, resolver, p
    h.close()


def fetch(mp: MiniProgram, url: str) -> list[Any]:
    mp.current_page.call_method("fetch", url)
    return mp.current_page.data["r"]


def test_redirects_and_rebinding_through_the_sandbox(net_host, apps, tls_server):
    h, resolver, p = net_host
    base = f"https://good.test:{p}"
    with launch(apps["attacker"], host=h, app_id="wxnetattack00000", user="mallory") as mp:
        assert fetch(mp, f"{base}/hello") == ["ok", 200, "/hello"]
        # the URL read once by the shim is the URL checked and the URL fetched
        mp.current_page.call_method("fetch_getter", f"{base}/checked", f"https://evil.test:{p}/used")
        assert mp.current_page.data["r"] == ["ok", "/checked", 1]
        n = len(tls_server.seen.requests)
        # a redirect to a name outside the allowlist, to an IP literal, to a private answer
        for to in ["https://other.test:%d/x" % p, "https://127.0.0.1:%d/x" % p, "https://evil.test:%d/x" % p,
                   "http://good.test:%d/x" % p, "file:///etc/passwd"]:
            r = fetch(mp, f"{base}/redirect?code=302&to={to}")
            assert r[0] == "fail", (to, r)
            wechat_fail(r[1], "request")
        assert len(tls_server.seen.requests) == n + 5  # only the redirecting hops reached the server
        # an allowed redirect is followed, re-vetted, and lands on the validated name
        assert fetch(mp, f"{base}/redirect?to=https://api.good.test:{p}/landed") == ["ok", 200, "/landed"]
        assert tls_server.seen.sni[-1] == "api.good.test"
        # rebinding: the first answer is vetted and pinned; a second, private answer is refused
        resolver.set("good.test", ["127.0.0.1"], ["10.0.0.1"], ["169.254.169.254"])
        assert fetch(mp, f"{base}/first")[0] == "ok"
        assert fetch(mp, f"{base}/second") == ["fail", "request:fail resolved address not allowed"]
        assert fetch(mp, f"{base}/third") == ["fail", "request:fail resolved address not allowed"]
        # the rebinding answer mid-redirect is refused too
        resolver.set("api.good.test", ["10.0.0.1"])
        resolver.set("good.test", ["127.0.0.1"])
        r = fetch(mp, f"{base}/redirect?to=https://api.good.test:{p}/x")
        assert r == ["fail", "request:fail resolved address not allowed"]
        assert mp.instance.alive


# ---- 9. WXS regex backtracking in the render path ------------------------------------------------
def test_wxs_catastrophic_backtracking_is_stopped_by_the_watchdog(host, apps, neighbour):
    with launch(apps["wxs"], host=host, app_id="wxwxsattack00000", user="mallory", cpu_budget=1.0) as mp:
        assert mp.current_page.query_selector("view").text == "match"
        with pytest.raises(ScriptTimeout, match="ran longer than its budget of 1s and was stopped"):
            mp.current_page.call_method("evil")
        assert not mp.instance.alive
        mp.instance.restart()  # the page renders again from its initial data
        assert mp.instance.alive and mp.current_page.query_selector("view").text == "match"
    healthy(host, neighbour)
