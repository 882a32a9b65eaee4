"""Sandbox escape and bridge abuse: hostile mini-program code against the worker and the bridge.

Each case asserts the safe outcome, that the host keeps running, and that another app's stored
data is untouched.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from minibox.host import Host, HostConfig
from minibox.policy.storage import Owner
from minibox.testing import launch

VICTIM_APP = "wxvictim00000000"
PROBES: dict[str, str] = {
    # the bridge takes identity from the instance, never from the message
    "forged_identity": """
        const r = JSON.parse(__host_call(JSON.stringify({api: 'getStorageSync', args: {key: 'secret'},
            app_id: 'wxvictim00000000', appId: 'wxvictim00000000', user_id: 'victim', host_id: 'x'})));
        return r.err ? r.err.errMsg : 'read: ' + JSON.stringify(r.ok)""",
    "forged_args_identity": """
        const r = JSON.parse(__host_call(JSON.stringify({api: 'getStorageSync',
            args: {key: 'secret', appId: 'wxvictim00000000', userId: 'victim'}})));
        return r.err ? r.err.errMsg : 'read: ' + JSON.stringify(r.ok)""",
    "bridge_garbage": """
        const out = [];
        for (const junk of ['', 'null', '[]', '{"api": 5}', '{"api": "getStorageSync", "args": "x"}', '\\u0000', '{']) {
          try { out.push(__host_call(junk)) } catch (e) { out.push('throw ' + e.name) }
        }
        return out.map(x => x.slice(0, 60))""",
    "unknown_api_over_bridge": """
        return JSON.parse(__host_call(JSON.stringify({api: '__import__', args: {}}))).err.errMsg""",
    "broken_json_in_sandbox": """
        JSON.stringify = () => '{"api": "getStorageSync", "args": {"key": ';
        try { wx.getStorageSync('k'); return 'no error' } catch (e) { return e.name }""",
    "dynamic_import": """
        import('/etc/passwd').then(() => 'loaded', (e) => 'refused: ' + e.name)
          .then((r) => this.setData({ imported: r }))""",
    "function_constructor_chains": """
        const out = [];
        const probes = [
          () => __host_call.constructor('return 1'),
          () => Object.getPrototypeOf(async () => {}).constructor('return 1'),
          () => Reflect.construct(Object.getPrototypeOf(function () {}).constructor, ['return 1']),
          () => (class {}).constructor('return 1'),
          () => [].map.constructor('return 1'),
          () => Symbol.constructor.constructor('return 1'),
        ];
        for (const p of probes) { try { p(); out.push('ran') } catch (e) { out.push(e.name) } }
        return out""",
    "timer_flood": """
        let n = 0;
        try { for (;;) { setTimeout(() => {}, 1e9); n++ } } catch (e) { return [e.name, n] }""",
    "prototype_pollution_stays_inside": """
        Object.prototype.errMsg = 'polluted'; Object.prototype.ok = {data: 'x'};
        Array.prototype.push = function () { throw new Error('no push') };
        try { return wx.getStorageSync('nothing') } catch (e) { return 'throw ' + e.message }""",
    "globals_of_the_host": """
        return ['process', 'require', 'module', 'std', 'os', 'fetch', 'XMLHttpRequest', 'WebSocket',
                'importScripts', 'Deno', 'Bun', 'scriptArgs', 'print', '__loadScript']
          .filter(n => typeof globalThis[n] !== 'undefined')""",
    "huge_bridge_payload": """
        try { const r = JSON.parse(__host_call(JSON.stringify({api: 'setStorageSync',
          args: {key: 'big', data: 'x'.repeat(3 * 1024 * 1024)}}))); return r.err ? r.err.errMsg : 'stored' }
        catch (e) { return 'throw ' + e.name }""",
}


def _victim_setup(host: Host) -> Owner:
    victim = Owner(host.config.host_id, VICTIM_APP, "victim")
    host.storage.set(victim, "secret", {"pin": "1234"})
    return victim


@pytest.fixture(scope="module")
def probe_app(tmp_path_factory) -> Path:
    from tests.conftest import write_project

    methods = ",\n".join(f"  {name}() {{ {body} }}" for name, body in PROBES.items())
    return write_project(tmp_path_factory.mktemp("probe"), {
        "pages/p/p.wxml": "<view>probe</view>",
        "pages/p/p.js": "Page({\n" + methods + "\n})",
    })


def run_probe(host: Host, project: Path, name: str):
    with launch(project, host=host, app_id="wxattacker000000", user="mallory") as mp:
        page = mp.current_page
        result = page.call_method(name)
        mp.wait_idle()
        assert mp.instance.alive, f"{name}: the worker died"
        return result


@pytest.fixture
def host(tmp_path: Path):
    h = Host(HostConfig(data_dir=tmp_path))
    victim = _victim_setup(h)
    yield h
    assert h.storage.get(victim, "secret") == {"pin": "1234"}  # untouched by every case
    h.close()


def test_forged_identity_reads_own_storage_only(host, probe_app) -> None:
    assert run_probe(host, probe_app, "forged_identity") == "getStorageSync:fail data not found"
    assert run_probe(host, probe_app, "forged_args_identity") == "getStorageSync:fail data not found"


def test_bridge_garbage_is_refused(host, probe_app) -> None:
    out = run_probe(host, probe_app, "bridge_garbage")
    assert all("fail" in x or x.startswith("throw") for x in out), out


def test_unknown_api_over_bridge(host, probe_app) -> None:
    assert run_probe(host, probe_app, "unknown_api_over_bridge") == "__import__:fail api not found"


def test_replacing_intrinsics_does_not_reach_the_framework(host, probe_app) -> None:
    # the framework captured JSON before any mini-program code ran
    assert run_probe(host, probe_app, "broken_json_in_sandbox") == "no error"


def test_no_dynamic_import(host, probe_app) -> None:
    with launch(probe_app, host=host) as mp:
        mp.current_page.call_method("dynamic_import")
        mp.wait_idle()
        assert mp.current_page.data["imported"].startswith("refused")
        assert mp.instance.alive


def test_constructor_chains_lead_nowhere(host, probe_app) -> None:
    assert run_probe(host, probe_app, "function_constructor_chains") == ["EvalError"] * 6


def test_timer_flood_is_bounded(host, probe_app) -> None:
    assert run_probe(host, probe_app, "timer_flood") == ["RangeError", 10000]


def test_prototype_pollution_stays_inside(host, probe_app) -> None:
    out = run_probe(host, probe_app, "prototype_pollution_stays_inside")
    assert out in ("", "throw no push") or "fail" in str(out)


def test_no_host_globals(host, probe_app) -> None:
    assert run_probe(host, probe_app, "globals_of_the_host") == []


def test_huge_bridge_payload_hits_the_quota(host, probe_app) -> None:
    out = run_probe(host, probe_app, "huge_bridge_payload")
    assert "fail" in out
