"""Hostile mini-programs: endless loops, memory bombs, code from strings. The host survives."""

from __future__ import annotations

import os

import pytest

from minibox.runtime.errors import ScriptOutOfMemory, ScriptTimeout, WorkerCrashed
from minibox.testing import launch


def looping_app(make_project, body: str):
    return make_project({
        "pages/p/p.wxml": "<view>{{n}}</view>",
        "pages/p/p.js": "Page({ data: {n: 0}, onLoad() { %s } })" % body,
    })


def test_endless_loop_in_onload_is_stopped(make_project) -> None:
    with pytest.raises(ScriptTimeout, match="ran longer than its budget of 1s"):
        launch(looping_app(make_project, "while (true) {}"), cpu_budget=1.0)


def test_endless_promise_jobs_are_stopped(make_project) -> None:
    # each job queues the next and returns nothing: the queue never empties and never grows (a chain
    # that returns its promise nests resolutions and ends by itself, in a RangeError, after ~1 s)
    body = "const spin = () => { Promise.resolve().then(spin) }; spin()"
    with pytest.raises(ScriptTimeout):
        launch(looping_app(make_project, body), cpu_budget=1.0)


def test_memory_bomb_is_stopped(make_project) -> None:
    body = "const keep = []; while (true) keep.push(new Array(100000).fill(keep.length))"
    with pytest.raises(ScriptOutOfMemory, match="memory limit of 64 MB"):
        launch(looping_app(make_project, body), memory_mb=64)


def test_a_killed_instance_reports_crash_and_others_keep_running(make_project) -> None:
    good = make_project({
        "pages/p/p.wxml": "<view>{{n}}</view>",
        "pages/p/p.js": "Page({ data: {n: 1}, bump() { this.setData({n: this.data.n + 1}) } })",
    })
    bad = make_project({
        "pages/p/p.wxml": "<view bindtap='spin'>x</view>",
        "pages/p/p.js": "Page({ spin() { for (;;) {} } })",
    })
    with launch(good) as ok, launch(bad, cpu_budget=0.5) as evil:
        pid = evil.instance.worker_pid
        with pytest.raises(ScriptTimeout):
            evil.current_page.query_selector("view").trigger("tap")
        assert not evil.instance.alive
        with pytest.raises(OSError):
            os.kill(pid, 0)  # the worker process is gone
        with pytest.raises(WorkerCrashed, match="instance is stopped"):
            evil.current_page.query_selector("view").trigger("tap")
        ok.current_page.call_method("bump")
        assert ok.current_page.data["n"] == 2


def test_no_code_from_strings(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": "<view/>",
        "pages/p/p.js": """Page({ probe() {
          const out = [];
          // indirect forms: the compiler refuses the plain ones, the sandbox must refuse these
          const E = globalThis['ev' + 'al'], F = globalThis['Func' + 'tion'];
          const tries = {
            eval: () => E('1 + 1'),
            newFunction: () => new F('return 1')(),
            ctor: () => (function () {})['constr' + 'uctor']('return 1')(),
            asyncCtor: () => (async function () {})['constr' + 'uctor']('return 1'),
            genCtor: () => (function* () {})['constr' + 'uctor']('yield 1'),
            indirect: () => (0, E)('1'),
          };
          for (const k of Object.keys(tries)) { try { tries[k](); out.push(k + ': ran') } catch (e) { out.push(k + ': ' + e.name) } }
          out.push('returnThis: ' + (new F('return this')() === globalThis));
          out.push(['WebAssembly', 'SharedArrayBuffer', 'Atomics', 'process', 'require', 'fetch', 'XMLHttpRequest']
            .map(n => n + '=' + typeof globalThis[n]).join(' '));
          return out;
        } })""",
    })
    with launch(project) as mp:
        out = mp.current_page.call_method("probe")
    assert out[:6] == ["eval: EvalError", "newFunction: EvalError", "ctor: EvalError", "asyncCtor: EvalError",
                       "genCtor: EvalError", "indirect: EvalError"]
    assert out[6] == "returnThis: true"
    assert out[7] == ("WebAssembly=undefined SharedArrayBuffer=undefined Atomics=undefined process=undefined "
                      "require=undefined fetch=undefined XMLHttpRequest=undefined")


def test_deep_recursion_is_a_catchable_error(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": "<view/>",
        "pages/p/p.js": "Page({ probe() { const f = (n) => f(n + 1) + 1; try { f(0) } catch (e) { return e.name } } })",
    })
    with launch(project) as mp:
        assert mp.current_page.call_method("probe") == "RangeError"
        assert mp.instance.alive


def test_restart_after_crash_keeps_storage_and_is_bounded(make_project) -> None:
    project = make_project({
        "pages/p/p.wxml": "<view bindtap='spin'>{{n}}</view>",
        "pages/p/p.js": """Page({ data: {n: 0},
          onLoad() { const n = (wx.getStorageSync('n') || 0) + 1; wx.setStorageSync('n', n); this.setData({n}) },
          spin() { for (;;) {} } })""",
    })
    with launch(project, cpu_budget=0.5) as mp:
        for expected in (2, 3, 4):
            with pytest.raises(ScriptTimeout):
                mp.current_page.query_selector("view").trigger("tap")
            assert mp.instance.restart()["errMsg"] == "launch:ok"
            assert mp.current_page.data["n"] == expected  # storage survived, memory did not
        with pytest.raises(ScriptTimeout):
            mp.current_page.query_selector("view").trigger("tap")
        with pytest.raises(WorkerCrashed, match="crashed 3 times"):
            mp.instance.restart()
