"""The module system in the sandbox: ES modules converted at build time, WeChat's require resolution,
modern syntax in miniprogram_npm, eval at run time, and errors that name the original file:line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from minibox.testing import launch

INDEX = "pages/index/index"


def app(make_project: Callable[..., Path], files: dict, index_js: str, wxml: str = "<view>{{out}}</view>") -> Path:
    base: dict = {
        "app.json": {"pages": [INDEX]},
        "app.js": "App({ globalData: {} })",
        f"{INDEX}.wxml": wxml,
        f"{INDEX}.js": index_js,
    }
    base.update(files)
    return make_project(base)


def out_of(make_project: Callable[..., Path], files: dict, index_js: str) -> object:
    with launch(app(make_project, files, index_js)) as mp:
        assert mp.errors == [], mp.errors
        return mp.current_page.data["out"]


def test_es_modules_in_app_code_and_npm(make_project) -> None:
    files = {
        "utils/math.js": "export const PI = 3\nexport function twice(x) { return x * 2 }\n"
                         "export default function add(a, b) { return a + b }\n",
        "utils/index.js": "export * from './math'\nexport { default as add } from './math'\n"
                          "export * as all from './math'\n",
        "utils/cjs.js": "module.exports = { name: 'cjs' }",
        "miniprogram_npm/lib/index.js": "import { twice } from './impl'\nexport default { four: twice(2) }\n",
        "miniprogram_npm/lib/impl.js": "export const twice = (x) => x * 2",
    }
    index_js = """import add, { twice as t, PI } from '../../utils/math'
import * as u from '../../utils'
import cjs, { name } from '../../utils/cjs'
import lib from 'lib'
Page({ data: { out: [add(1, 2), t(PI), u.add(2, 2), u.all.PI, cjs.name, name, lib.four, u.twice(5)] } })
"""
    assert out_of(make_project, files, index_js) == [3, 6, 4, 3, "cjs", "cjs", 4, 10]


def test_cjs_requires_an_es_module_and_gets_esmodule_interop(make_project) -> None:
    files = {"utils/esm.js": "export default 'dflt'\nexport const x = 1\n"}
    index_js = """const m = require('../../utils/esm')
Page({ data: { out: [m.default, m.x, m.__esModule, Object.keys(m)] } })"""
    assert out_of(make_project, files, index_js) == ["dflt", 1, True, ["default", "x"]]


def test_exports_are_live_bindings_and_circular_imports_work(make_project) -> None:
    files = {
        "utils/counter.js": "export let count = 0\nexport function inc() { count++ }\n",
        "utils/a.js": "import { b } from './b'\nexport function a() { return 'a' + b() }\n"
                      "export function name() { return 'A' }\n",
        "utils/b.js": "import { name } from './a'\nexport function b() { return 'b' + name() }\n",
    }
    index_js = """import { count, inc } from '../../utils/counter'
import { a } from '../../utils/a'
inc(); inc()
Page({ data: { out: [count, a()] } })"""
    assert out_of(make_project, files, index_js) == [2, "abA"]


def test_shadowed_import_names_still_work(make_project) -> None:
    files = {"utils/m.js": "export const n = 5\nexport function f(n) { return n + 1 }\n"}
    index_js = """import { n, f } from '../../utils/m'
function g(n) { return n * 10 }
const h = (f) => f
Page({ data: { out: [n, f(n), g(2), h(3), { n }.n] } })"""
    assert out_of(make_project, files, index_js) == [5, 6, 20, 3, 5]


def test_require_resolution_like_wechat(make_project) -> None:
    files = {
        "utils/index.js": "module.exports = 'dir-index'",
        "utils/plain.js": "module.exports = 'plain'",
        "config/data.json": '{"k": [1, 2]}',
        "miniprogram_npm/a/index.js": "module.exports = require('b') + '+a'",  # b not declared by a
        "miniprogram_npm/b/index.js": "module.exports = 'b'",
        "miniprogram_npm/c/package.json": '{"name": "c", "main": "lib/main.js"}',
        "miniprogram_npm/c/lib/main.js": "module.exports = 'c-main'",
        "miniprogram_npm/d/index.js": "module.exports = require('d/meta.json').v",
        "miniprogram_npm/d/meta.json": '{"v": "d-json"}',
    }
    index_js = """const w = wx
Page({ data: { out: [require('../../utils'), require('../../utils/plain'), require('/utils/plain.js'),
  require('../../config/data.json').k, require('a'), require('c'), typeof w.getSystemInfoSync, require('d')] } })"""
    assert out_of(make_project, files, index_js) == [
        "dir-index", "plain", "plain", [1, 2], "b+a", "c-main", "function", "d-json",
    ]


def test_modern_syntax_in_npm_runs_untranspiled(make_project) -> None:
    files = {
        "miniprogram_npm/modern/index.js": """
export class Store {
  #items = []
  static created = 0
  label = 'store'
  constructor() { Store.created++ }
  add(...xs) { this.#items.push(...xs); return this }
  get size() { return this.#items.length }
  *[Symbol.iterator]() { yield* this.#items }
}
export const pick = (o) => o?.a?.b ?? 'none'
export async function later(x) { await null; return x * 2 }
export const big = (2n ** 70n).toString()
export const spread = { ...{ a: 1 }, b: 2 }
export const res = [1, 2, 3].at(-1)
""",
    }
    index_js = """import { Store, pick, later, big, spread, res } from 'modern'
Page({
  data: { out: null },
  async onLoad() {
    const s = new Store().add(1, 2, 3)
    const doubled = await later(21)
    this.setData({ out: [s.size, [...s], Store.created, s.label, pick({}), pick({ a: { b: 0 } }), doubled,
      big, spread, res] })
  },
})"""
    assert out_of(make_project, files, index_js) == [
        3, [1, 2, 3], 1, "store", "none", 0, 42, str(2**70), {"a": 1, "b": 2}, 3,
    ]


def test_eval_compiles_and_throws_at_run_time(make_project) -> None:
    index_js = """Page({
  data: { out: null },
  onLoad() {
    const msgs = []
    try { eval('1 + 1') } catch (e) { msgs.push(e.name) }
    try { new Function('a', 'return a')(1) } catch (e) { msgs.push(e.name) }
    msgs.push(typeof new Function('return this')())
    this.setData({ out: msgs })
  },
})"""
    assert out_of(make_project, {}, index_js) == ["EvalError", "EvalError", "object"]


def test_dynamic_import_rejects_with_a_clear_error(make_project) -> None:
    index_js = """Page({
  data: { out: null },
  onLoad() { import('../../utils/x').catch((e) => this.setData({ out: e.message })) },
})"""
    out = out_of(make_project, {}, index_js)
    assert isinstance(out, str) and "dynamic import() is not supported" in out


def test_module_that_throws_is_not_cached_and_names_its_file_and_line(make_project) -> None:
    files = {
        "utils/bad.js": "import { x } from './x'\nconst a = 1\n\nfunction boom() {\n  null.y\n}\nexport const v = boom()\n",
        "utils/x.js": "export const x = 1",
        "utils/flaky.js": "globalThis.__tries = (globalThis.__tries || 0) + 1\n"
                          "if (globalThis.__tries < 2) throw new Error('first time')\nmodule.exports = 'ok'",
    }
    index_js = """const r = []
try { require('../../utils/bad') } catch (e) { r.push(e.stack) }
try { require('../../utils/flaky') } catch (e) { r.push(e.message) }
r.push(require('../../utils/flaky'))
Page({ data: { out: r } })"""
    stack, first, second = out_of(make_project, files, index_js)
    assert "at boom (utils/bad.js:5:" in stack and "(utils/bad.js:7:" in stack
    assert "pages/index/index.js:2:" in stack
    assert (first, second) == ("first time", "ok")


def test_uncaught_error_in_a_handler_names_the_original_line(make_project) -> None:
    index_js = "import '../../utils/x'\n\nPage({\n  onLoad() {\n    undefinedFn()\n  },\n})\n"
    with launch(app(make_project, {"utils/x.js": "export default 1"}, index_js)) as mp:
        assert mp.errors, "the error is reported"
        assert "pages/index/index.js:5:" in mp.errors[0]["stack"], mp.errors


def test_get_app_at_module_load(make_project) -> None:
    files = {
        "app.js": "const early = getApp()\nApp({ globalData: { early: typeof early } })",
    }
    index_js = "const a = getApp()\nPage({ data: { out: [a.globalData.early, typeof a] } })"
    assert out_of(make_project, files, index_js) == ["undefined", "object"]


def test_require_async_and_callback_forms(make_project) -> None:
    files = {"sub/util.js": "module.exports = 'async-ok'"}
    index_js = """Page({
  data: { out: [] },
  onLoad() {
    require.async('../../sub/util').then((m) => this.setData({ out: this.data.out.concat(['promise:' + m]) }))
    require('../../sub/util', (m) => this.setData({ out: this.data.out.concat(['callback:' + m]) }))
    require.async('../../sub/missing').catch((e) => this.setData({ out: this.data.out.concat([e.message]) }))
  },
})"""
    out = out_of(make_project, files, index_js)
    assert sorted(out) == ["callback:async-ok", 'module "sub/missing" is not defined, require args is '
                           "'../../sub/missing'", "promise:async-ok"]


def test_a_missing_import_names_the_line_of_its_import(make_project) -> None:
    files = {"utils/m.js": "// header comment\nimport a from './a'\n\nimport gone from 'not-installed'\nexport default 1\n",
             "utils/a.js": "export default 1"}
    index_js = """let stack = ''
try { require('../../utils/m') } catch (e) { stack = e.message + '|' + e.stack }
Page({ data: { out: stack } })"""
    out = out_of(make_project, files, index_js)
    assert 'module "utils/not-installed" is not defined' in out and "(utils/m.js:4:1)" in out, out
