"""ES modules to CommonJS (compiler/esm.py): every import/export form, Babel's interop, live bindings,
circular imports, and line numbers kept. Modules run in QuickJS under the framework's real module system."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
import quickjs

from minibox.compiler.esm import EsmSyntaxError, transform
from minibox.compiler.jstokens import tokenize
from minibox.compiler.logic import build_logic

BASE_JS = resources.files("minibox.runtime.framework").joinpath("00_base.js").read_text("utf-8")


def esm(src: str):
    return transform("a.js", src, tokenize(src))


def run(files: dict[str, str], entry: str = "main.js", expr: str = "JSON.stringify(m)") -> Any:
    """Compile `files` into logic.js, load it under 00_base.js, require `entry`; `expr` sees it as `m`."""
    errors: list = []
    logic = build_logic(files, files.get, errors.append)
    assert not [e for e in errors if not e.is_warning], errors
    ctx = quickjs.Context()
    ctx.eval(BASE_JS)
    ctx.eval(logic)
    out = ctx.eval(f"(function () {{ var m = mbRequire({json.dumps(entry)}); return {expr}; }})()")
    return json.loads(out) if isinstance(out, str) and expr.startswith("JSON") else out


# -- forms -------------------------------------------------------------------------------------------
def test_every_import_form():
    files = {
        "lib.js": "export default 'D'\nexport const a = 'A'\nexport const b = 'B'\n",
        "side.js": "globalThis.sideRan = true",
        "main.js": """import D from './lib'
import { a as aa, b } from './lib.js'
import * as ns from './lib'
import D2, { a } from './lib'
import D3, * as ns2 from './lib'
import './side'
import { default as D4 } from './lib'
export const out = [D, aa, b, ns.a, ns.default, D2, a, D3, ns2.b, D4, globalThis.sideRan]
""",
    }
    assert run(files)["out"] == ["D", "A", "B", "A", "D", "D", "A", "D", "B", "D", True]


def test_every_export_form():
    files = {
        "dep.js": "export const x = 'x'\nexport const y = 'y'\nexport default 'dep-default'\n",
        "main.js": """export const c1 = 1, c2 = 2
export let l = 'l'
export var v = 'v'
export function f() { return 'f' }
export async function af() { return 'af' }
export function* gen() { yield 'g' }
export class K { k() { return 'k' } }
export const { d1, d2: dd } = { d1: 'd1', d2: 'd2' }
const local = 'local'
export { local as renamed, local }
export { x as xx, default as depDefault } from './dep'
export * from './dep'
export * as depNs from './dep'
export default function () { return 'anon' }
""",
    }
    got = run(files, expr="JSON.stringify([Object.keys(m).sort(), m.c1, m.c2, m.l, m.v, m.f(), typeof m.af, "
                          "m.gen().next().value, new m.K().k(), m.d1, m.dd, m.renamed, m.local, m.xx, m.depDefault, "
                          "m.x, m.y, m.depNs.y, m.default(), m.__esModule])")
    keys, *values = got
    assert keys == sorted(["c1", "c2", "l", "v", "f", "af", "gen", "K", "d1", "dd", "renamed", "local", "xx",
                           "depDefault", "x", "y", "depNs", "default"])
    assert values == [1, 2, "l", "v", "f", "function", "g", "k", "d1", "d2", "local", "local", "x", "dep-default",
                      "x", "y", "y", "anon", True]


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("export default function named() { return 1 }\nexport const n = named.name", "named"),
        ("export default class Named {}\nexport const n = Named.name", "Named"),
        ("export default class extends Object {}\nexport const n = 'anon-class'", "anon-class"),
        ("export default async function () {}\nexport const n = 'async'", "async"),
        ("export default (1 + 2) * 3\nexport const n = 'expr'", "expr"),
        ("export default {\n  a: 1,\n}\nexport const n = 'object'", "object"),
    ],
)
def test_export_default_forms(src: str, expected: str):
    assert run({"main.js": src}, expr="JSON.stringify([m.n, typeof m.default])")[0] == expected


def test_export_star_keeps_local_names_and_skips_default():
    files = {
        "dep.js": "export const a = 'dep'\nexport const b = 'dep'\nexport default 'no'",
        "main.js": "export * from './dep'\nexport const a = 'mine'\n",
    }
    assert run(files) == {"a": "mine", "b": "dep"}


def test_reexport_of_an_import_binding():
    files = {"dep.js": "export let n = 1\nexport function bump() { n++ }", "main.js": "import { n, bump } from './dep'\nexport { n, bump }"}
    assert run(files, expr="(m.bump(), m.bump(), m.n)") == 3


def test_minified_module():
    files = {
        "dep.js": 'const a=1,b=function(){return 2};export{a as A,b as B};export default 3;',
        "main.js": 'import c,{A as x,B as y}from"./dep";import*as n from"./dep";export const out=[c,x,y(),n.A];',
    }
    assert run(files)["out"] == [3, 1, 2, 1]


# -- interop (as Babel) --------------------------------------------------------------------------------
def test_default_import_of_commonjs_is_module_exports():
    files = {
        "cjs.js": "module.exports = function () { return 'called' }\nmodule.exports.extra = 'e'",
        "main.js": "import fn, { extra } from './cjs'\nimport * as ns from './cjs'\n"
                   "export const out = [fn(), extra, ns.extra, ns.default === fn]",
    }
    assert run(files)["out"] == ["called", "e", "e", True]


def test_commonjs_with_esmodule_flag_gives_its_default():
    files = {
        "babel.js": "Object.defineProperty(exports, '__esModule', { value: true });\nexports.default = 'dflt'",
        "main.js": "import d from './babel'\nexport const out = d",
    }
    assert run(files)["out"] == "dflt"


def test_imported_function_is_called_without_this():
    files = {
        "dep.js": "export function who() { return this === undefined ? 'undefined' : typeof this }",
        "main.js": "import { who } from './dep'\nexport const out = [who(), who`tag`]",
    }
    assert run(files)["out"] == ["undefined", "undefined"]


# -- live bindings and cycles ----------------------------------------------------------------------------
def test_exports_are_live():
    files = {
        "counter.js": "export let count = 0\nexport function inc() { count += 1 }",
        "main.js": "import { count, inc } from './counter'\nimport * as c from './counter'\n"
                   "export function read() { return [count, c.count] }\ninc()",
    }
    got = run(files, expr="(function(){ var r1 = m.read(); mbRequire('counter.js').inc(); "
                          "return JSON.stringify([r1, m.read()]) })()")
    assert json.loads(got) == [[1, 1], [2, 2]]


def test_circular_imports_with_hoisted_functions_and_late_constants():
    files = {
        "a.js": "import { fromB, B_CONST } from './b'\nexport function fromA() { return 'A' }\n"
                "export const A_CONST = 'a-const'\nexport const out = fromB()\n"
                "export function late() { return B_CONST }",
        "b.js": "import { fromA, A_CONST } from './a'\n"
                "export function fromB() { return 'B' + fromA() }\n"  # A's hoisted function, during A's load
                "export const B_CONST = 'b-const'\nexport function readA() { return A_CONST }",
    }
    got = run(files, "a.js", "JSON.stringify([m.out, m.late(), mbRequire('b.js').readA()])")
    assert got == ["BA", "b-const", "a-const"]


def test_shadowed_import_falls_back_to_a_refreshed_binding():
    files = {
        "a.js": "import { val } from './b'\nexport const A = 'A'\n"
                "export function get() { return val }\nfunction shadow(val) { return val }\n"
                "export const s = shadow(5)",
        "b.js": "import { A } from './a'\nexport const val = 'v'\nexport function readA(A) { return A }\n"
                "export const seen = String(A)\nexport function top() { return A }",
    }
    # as after Babel: undefined while the cycle loads, the value once `a.js` has loaded
    got = run(files, "a.js", "JSON.stringify([m.get(), m.s, mbRequire('b.js').seen, mbRequire('b.js').top()])")
    assert got == ["v", 5, "undefined", "A"]


def test_names_that_are_not_references_are_left_alone():
    files = {
        "dep.js": "export const a = 'A'\nexport const k = 'K'",
        "main.js": """import { a, k } from './dep'
const obj = { a: 1, k, get a2() { return a }, a() { return 'method' } }
class C { a = 'field'; static k() { return 'static' } a2() { return this.a } }
const o2 = {}; o2.a = 'member'
export const out = [obj.a(), obj.k, obj.a2, new C().a2(), C.k(), o2.a, 'a' + a, `${a}`, typeof a, { k }.k]
""",
    }
    assert run(files)["out"] == ["method", "K", "A", "field", "static", "member", "aA", "A", "string", "K"]


# -- lines, ASI and text ----------------------------------------------------------------------------------
def test_lines_are_kept_and_imports_run_first():
    src = "console.log(x)\nimport x from './x'\nexport const y = 1\n"
    out = esm(src)
    assert out.is_esm and out.body.count("\n") == src.count("\n")
    assert out.body.split("\n")[0] == "console.log(_mb$0d.default)"
    assert out.body.split("\n")[1].strip() == ";"
    assert "\n" not in out.header and 'require("./x")' in out.header


def test_no_asi_hazard_where_an_import_was():
    files = {"x.js": "export default 2", "main.js": "const a = 1\nimport x from './x'\n(function () {})()\nexport const out = a + x"}
    assert run(files)["out"] == 3


def test_keywords_in_strings_comments_and_properties_are_not_modules():
    src = "// import x from 'y'\nvar s = 'export default 1'; obj.import('a'); var o = { import: 1, export() {} }\n"
    out = esm(src)
    assert not out.is_esm and out.header == "" and out.body == src


def test_import_attributes_are_dropped():
    files = {"data.json": '{"a": 1}', "main.js": "import data from './data.json' with { type: 'json' }\nexport const out = data.a"}
    assert run(files)["out"] == 1


def test_dynamic_import_and_import_meta():
    out = esm("var p = import('./x')\nvar u = import.meta.url\n")
    assert out.body == "var p = __mbImport('./x')\nvar u = ({}).url\n" and not out.is_esm
    assert [w.code for w in out.warnings] == ["esm-import-meta"]


@pytest.mark.parametrize("src", ["import { a from './x'", "import x './x'", "export * from", "import * from './x'"])
def test_malformed_declarations_raise(src: str):
    with pytest.raises(EsmSyntaxError):
        esm(src)


def test_commonjs_is_untouched():
    src = "const a = require('./a')\nmodule.exports = { a }\n"
    out = esm(src)
    assert (out.is_esm, out.header, out.body) == (False, "", src)


def test_class_members_named_like_imports_are_not_references():
    files = {
        "dep.js": "export const umask = 'U'\nexport const mode = 'M'",
        "main.js": """import { umask, mode } from './dep'
class Opts {
  umask;
  mode = mode
  static umask = umask
  get other() { return umask }
}
export const out = [new Opts().umask, new Opts().mode, Opts.umask, new Opts().other, 'umask' in new Opts()]
""",
    }
    assert run(files)["out"] == [None, "M", "U", "U", True]


def test_a_call_at_the_start_of_a_line_does_not_continue_the_previous_one():
    files = {
        "dep.js": "export default function ad(o) { return o.n }\nexport const tag = (s) => s[0]",
        "main.js": "import ad, { tag } from './dep'\nconst s = 'text'\n\nad({ n: 1 })\nconst t = [1]\n"
                   "tag`x`\nexport const out = [s, t, ad({ n: 2 })]\nif (s) {}\nelse\nad({ n: 3 })\n",
    }
    assert run(files)["out"] == ["text", [1], 2]
