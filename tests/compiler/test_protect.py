"""Code protection (compiler/protect.py): a protected mini-program behaves as the original, its local
names are gone and its strings and property names are not, every error frame maps back to the original
file:line:col, and hostile modules (terser out of stack, memory or time, or rejecting the code) are
delivered as written, one file alone, with the rest protected and the app running."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import write_project
from minibox.cli import app as cli_app
from minibox.compiler import compile_project
from minibox.compiler.protect import (
    SKIPPED,
    TERSER_SHA256,
    LogicMap,
    Minifier,
    MinifyFailed,
    protect_bundle,
    protect_logic,
    split_logic,
    terser_source,
)
from minibox.compiler.sourcemap import SourceMap, decode_mappings, encode_mappings
from minibox.package import SigningKey, pack
from minibox.runtime.errors import ScriptError
from minibox.testing import MiniProgram, launch
from tests.conftest import EXAMPLES

VENDOR = Path(__file__).resolve().parents[2] / "src" / "minibox" / "compiler" / "vendor"
FRAME = re.compile(r"\(((?:[\w@.-]+/)*[\w@.-]+\.js:\d+:\d+)\)")

# A page whose methods fail in the ways mini-programs do, across files, ES module imports included.
ERRORS_PROJECT = {
    "utils/calc.js": """// arithmetic helpers
export function divide(numerator, denominator) {
  if (denominator === 0) {
    throw new RangeError('division by zero: ' + numerator);
  }
  return numerator / denominator;
}

export const deep = (config) => config.nested.value;
""",
    "utils/boom.js": "var loadedAlready = false;\n\nthrow new Error('boom while loading ' + loadedAlready);\n",
    "utils/loader.js": "// loads a module that throws\nimport { divide } from './calc.js';\n\nimport './boom.js';\n"
                       "export const half = (x) => divide(x, 2);\n",
    "pages/index/index.wxml": "<view class=\"n\">{{n}}</view>\n",
    "pages/index/index.js": """import { divide, deep } from '../../utils/calc.js';

function helperWithLongName(thing) {
  const localValueName = thing.missing;
  return localValueName.property;
}

class Failure extends Error {
  constructor(msg) { super(msg); this.name = this.constructor.name; }
}

Page({
  data: { n: 0 },
  onLoad() {
    this.setData({ n: divide(10, 2) });
  },
  divZero() {
    return divide(1, 0);
  },
  nullProp() {
    return helperWithLongName({});
  },
  arrow() {
    return deep({});
  },
  custom() {
    throw new Failure('custom failure');
  },
  undefinedCall() {
    notDefinedAnywhere(1);
  },
  inCallback() {
    [1, 2].map(function (x) {
      return x.y.z;
    });
  },
  loadBroken() {
    return require('../../utils/loader.js');
  },
  className() {
    return new Failure('x').name;
  },
})
""",
}
FAILING_METHODS = ("divZero", "nullProp", "arrow", "custom", "undefinedCall", "inCallback", "loadBroken")


def build(src: Path, out: Path, *, protect: bool) -> tuple[Path, dict[str, Any] | None]:
    compile_project(src, out)
    if not protect:
        return out, None
    protection, doc = protect_bundle(out)
    assert protection.warnings == [], protection.warnings
    return out, doc


def module_code(logic_js: str, path: str) -> str:
    return next(p for p in split_logic(logic_js) if not isinstance(p, str) and p.path == path).body


# ---- the vendored terser -------------------------------------------------------------------------------------


def test_vendored_terser_is_pinned_licensed_and_checked() -> None:
    meta = json.loads((VENDOR / "terser.json").read_text())
    data = (VENDOR / "terser.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == meta["sha256"] == TERSER_SHA256
    licences = (VENDOR / "terser.LICENSE").read_text()
    for pkg, version in meta["bundled"].items():
        assert f"==== {pkg} {version} " in licences
    assert "BSD-2-Clause" in licences and data.startswith(f"// terser {meta['terser']} ".encode())
    assert terser_source().startswith("// terser")
    # the bundle needs nothing from outside (its one use of Node's `process` is behind a typeof check)
    assert b"require(" not in data


def test_a_tampered_terser_is_not_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    import minibox.compiler.protect as protect

    monkeypatch.setattr(protect, "_terser_source", None)
    monkeypatch.setattr(protect, "TERSER_SHA256", "0" * 64)
    with pytest.raises(RuntimeError, match=r"rebuild it with scripts/vendor_terser\.sh"):
        protect.terser_source()


# ---- logic.js format -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("example", ["shop", "todo", "wealth"])
def test_split_logic_reads_back_every_module_of_the_compilers_output(example: str, tmp_path: Path) -> None:
    compile_project(EXAMPLES / example, tmp_path / "b")
    text = (tmp_path / "b" / "logic.js").read_text()
    parts = split_logic(text)
    modules = [p for p in parts if not isinstance(p, str)]
    assert modules and all(m.path.endswith(".js") for m in modules)
    # written out again after the preamble, with the same lines, it is the same file
    from minibox.compiler.logic import LogicLinker

    linker = LogicLinker()
    for p in parts:
        linker.add_text(p if isinstance(p, str) else p.define(linker.line))
    assert linker.text() == text


def test_json_modules_aliases_and_broken_modules_pass_through(tmp_path: Path) -> None:
    src = write_project(tmp_path / "p", {
        "data/rates.json": json.dumps({"cny": 1, "usd": 7.1}),
        "miniprogram_npm/lib/package.json": json.dumps({"main": "dist/main.js"}),
        "miniprogram_npm/lib/dist/main.js": "var answerValue = 42;\nmodule.exports = { answer: answerValue };\n",
        "utils/broken.js": "var = ;\n",
        "pages/index/index.js": "const rates = require('../../data/rates.json');\nconst lib = require('lib');\n"
                                "Page({ data: { usd: rates.usd, answer: lib.answer }, "
                                "broken() { return require('../../utils/broken') } })\n",
        "pages/index/index.wxml": "<view class='v'>{{usd}} {{answer}}</view>",
    })
    prot = tmp_path / "b"
    compile_project(src, prot)
    protection, _doc = protect_bundle(prot)
    assert protection.warnings == [] and protection.protected == protection.modules == 3
    text = (prot / "logic.js").read_text()
    assert '__mbDefine("data/rates.json", function (require, module) { module.exports = {"cny":1,"usd":7.1}; });' in text
    assert 'throw new SyntaxError("utils/broken.js:1:5: ' in text
    assert "answerValue" not in text
    with launch(prot) as mp:
        assert mp.current_page.query_selector(".v").text == "7.1 42"


def test_logic_js_of_another_format_is_delivered_as_written() -> None:
    text = "// minibox logic.js\nvar x = 1;\n"
    protection = protect_logic(text)
    assert protection.text == text and protection.protected == 0
    assert [(w.file, w.code) for w in protection.warnings] == [("logic.js", SKIPPED)]


def test_text_that_only_looks_like_a_modules_end_leaves_logic_js_as_written() -> None:
    from minibox.compiler.logic import LogicLinker

    # a template literal whose lines read like the end of its module and a module after it: a reader of
    # lines splits there, the engine does not (and code in the file cannot make the two agree)
    linker = LogicLinker()
    n = linker.line
    text = linker.text() + (
        '__mbDefine("x.js", function (require, module, exports) {\n'
        "var s = `\n"
        f"}}, {n}, 1);\n"
        '__mbDefine("evil.js", function (require, module, exports) {\n'
        "wx.evil(); `;\n"
        f"}}, {n + 3}, 1);\n"
        f'__mbDefine("evil.js", function () {{}}, {n + 3}, 1);\n'
    )
    assert [p.path for p in split_logic(text) if not isinstance(p, str)] == ["x.js", "evil.js"]
    protection = protect_logic(text)
    assert protection.text == text and protection.protected == 0
    assert [w.file for w in protection.warnings] == ["logic.js"]
    assert "does not run as its lines read" in protection.warnings[0].message
    # nor can code in it replace the recorder
    hostile = LogicLinker().text() + '__mbDefine("a.js", 0); function __mbDefine() {} __mbDefine("b.js", 0);\n'
    assert "does not run to its end" in protect_logic(hostile).warnings[0].message


# ---- behaviour: the same app --------------------------------------------------------------------------------


def drive_shop(mp: MiniProgram) -> list[Any]:
    """The shop example's main path; every step's markup and data, as seen by a person and a test."""
    seen: list[Any] = []

    def snap() -> None:
        page = mp.current_page
        seen.append((page.path, page.root.outer_wxml, page.data, [t["title"] for t in mp.toasts]))

    home = mp.current_page
    snap()
    home.query_selector("input.keyword").input("milk")
    snap()
    home.query_selector("input.keyword").input("")
    home.query_selector_all("product-card .card")[1].tap()
    snap()
    mp.current_page.query_selector(".plus").tap()
    mp.current_page.query_selector(".plus").tap()
    snap()
    mp.current_page.query_selector("button.add").tap()
    snap()
    mp.switch_tab("/pages/cart/cart")
    snap()
    mp.current_page.query_selector(".checkout").tap()
    mp.modals[-1].confirm()
    mp.wait_idle()
    snap()
    seen.append((mp.storage(), mp.errors))
    return seen


def test_a_protected_example_behaves_as_the_original(tmp_path: Path) -> None:
    plain, _ = build(EXAMPLES / "shop", tmp_path / "plain", protect=False)
    prot, doc = build(EXAMPLES / "shop", tmp_path / "prot", protect=True)
    assert doc is not None and set(doc["modules"]) >= {"app.js", "pages/detail/detail.js"}
    runs = []
    for bundle in (plain, prot):
        with launch(bundle, data_dir=tmp_path / f"host-{bundle.name}") as mp:
            runs.append(drive_shop(mp))
    assert runs[0] == runs[1]
    assert runs[1][-2][3][-1] == "Paid" and runs[1][-1][1] == []
    # bundle.json names the protected logic.js
    config = json.loads((prot / "bundle.json").read_text())
    assert config["files"]["logic.js"] == hashlib.sha256((prot / "logic.js").read_bytes()).hexdigest()


def test_local_names_are_mangled_strings_and_property_names_kept(tmp_path: Path) -> None:
    src = write_project(tmp_path / "p", {
        "pages/index/index.js": """const GREETING_PREFIX = 'Hello, ';
function composeGreetingText(personName) {
  const temporaryBuffer = [GREETING_PREFIX, personName, '!'];
  return temporaryBuffer.join('');
}
class AccountLedger {
  constructor() { this.entries = []; }
  record(amountInCents) { this.entries.push(amountInCents); return this; }
}
Page({
  data: { greeting: '', total: 0, ledgerName: '' },
  onLoad() {
    const ledgerInstance = new AccountLedger().record(150).record(250);
    this.setData({ greeting: composeGreetingText('Wang 王'), total: ledgerInstance.entries.length,
                   ledgerName: ledgerInstance.constructor.name });
  },
})
""",
        "pages/index/index.wxml": "<view class='g'>{{greeting}} {{total}} {{ledgerName}}</view>",
    })
    prot, _ = build(src, tmp_path / "b", protect=True)
    code = module_code((prot / "logic.js").read_text(), "pages/index/index.js")
    for local in ("GREETING_PREFIX", "composeGreetingText", "personName", "temporaryBuffer", "amountInCents",
                  "ledgerInstance"):
        assert local not in code, local
    for kept in ("'Hello, '", "'Wang 王'", ".entries", ".record(", "setData", "ledgerName", "Page(", "onLoad"):
        assert kept.strip("'") in code, kept
    assert "AccountLedger" in code  # class names are kept: constructor.name is used at run time
    assert "\n" not in code.strip()
    with launch(prot) as mp:
        assert mp.current_page.query_selector(".g").text == "Hello, Wang 王! 2 AccountLedger"


# ---- error reports: mapped back to the original file:line:col ------------------------------------------------


def error_frames(bundle: Path) -> dict[str, tuple[str, list[str]]]:
    out = {}
    with launch(bundle) as mp:
        for name in FAILING_METHODS:
            with pytest.raises(ScriptError) as info:
                mp.current_page.call_method(name)
            text = str(info.value)
            out[name] = (text.split("\n", 1)[0], FRAME.findall(text))
        assert mp.current_page.call_method("className") == "Failure"
    return out


def test_every_error_frame_maps_back_to_the_original_file_line_and_column(tmp_path: Path) -> None:
    src = write_project(tmp_path / "p", ERRORS_PROJECT)
    plain, _ = build(src, tmp_path / "plain", protect=False)
    prot, doc = build(src, tmp_path / "prot", protect=True)
    assert doc is not None
    expected, got = error_frames(plain), error_frames(prot)
    logic_map = LogicMap(json.loads(json.dumps(doc)))  # as stored: JSON
    for name in FAILING_METHODS:
        message, frames = got[name]
        assert message == expected[name][0]
        assert frames and all(":1:" in f for f in frames if not f.startswith("utils/boom.js")), frames
        assert [logic_map.frame(f) for f in frames] == expected[name][1], name
    # the import in an ES module's header maps to the import statement's line
    assert "utils/loader.js:4:1" in expected["loadBroken"][1]
    assert "utils/calc.js:4:49" in expected["divZero"][1]
    # text mapping: a whole stack at once; frames of unprotected files and framework frames unchanged
    assert logic_map.text("at f (pages/index/index.js:1:40)\n    at g (<input>:59:28)").endswith("(<input>:59:28)")
    assert logic_map.frame("other/file.js:1:10") == "other/file.js:1:10"
    assert logic_map.frame("pages/index/index.js:3") == "pages/index/index.js:3"  # no column: cannot map


def test_source_map_codec_round_trips_and_looks_up_the_nearest_segment() -> None:
    with Minifier() as m:
        code, raw = m.minify("\nvar longName = 1;\nfunction other(argument) {\n  return argument + longName;\n}\n")
    assert encode_mappings(decode_mappings(raw["mappings"])) == raw["mappings"]
    sm = SourceMap.from_json(raw)
    at = code.index("return")
    found = sm.lookup(0, at + 3)  # inside the keyword: the segment at its start
    assert found is not None and (found.line, found.column) == (3, 2)
    assert sm.lookup(5, 0) is None and sm.lookup(0, -1) is None


# ---- hostile modules ------------------------------------------------------------------------------------------


#: A module of this many entries needs more than 64 MB of terser's heap.
BIG_TABLE = "var table = [" + ",".join(f"{{key{i}: 'value {i}', n: {i}}}" for i in range(40_000)) + "];\n"


def test_hostile_modules_are_delivered_as_written_and_the_app_runs(tmp_path: Path) -> None:
    # a minifier with a small stack and heap: each hostile module blows one of them, or terser rejects it
    src = write_project(tmp_path / "p", {
        "utils/nested.js": "module.exports = " + "[" * 3000 + "]" * 3000 + ";\n",
        "utils/big.js": BIG_TABLE + "module.exports = table.length;\n",
        "utils/letvar.js": "var let = 7;\nmodule.exports = let * 6;\n",  # sloppy-mode JS terser rejects
        "utils/fine.js": "var someLocalName = 'fine';\nmodule.exports = someLocalName;\n",
        "pages/index/index.js": "const nested = require('../../utils/nested.js');\n"
                                "const answer = require('../../utils/letvar.js');\n"
                                "const fine = require('../../utils/fine.js');\n"
                                "const rows = require('../../utils/big.js');\n"
                                "Page({ data: { v: [fine, answer, Array.isArray(nested), rows].join(' ') } })\n",
        "pages/index/index.wxml": "<view class='v'>{{v}}</view>",
    })
    bundle = tmp_path / "b"
    compile_project(src, bundle)
    before = (bundle / "logic.js").read_text()
    with Minifier(stack_bytes=1 << 20, memory_bytes=64 << 20) as minifier:
        protection, doc = protect_bundle(bundle, minifier=minifier)
    skipped = {w.file: w.message for w in protection.warnings}
    assert set(skipped) == {"utils/nested.js", "utils/big.js", "utils/letvar.js"}, skipped
    assert "too deeply nested" in skipped["utils/nested.js"]
    assert "needed over 64 MB" in skipped["utils/big.js"]
    assert "terser cannot parse it" in skipped["utils/letvar.js"]
    assert all(w.code == SKIPPED and w.severity == "warning" and "delivered as written" in w.message
               for w in protection.warnings)
    assert set(doc["modules"]) == {"app.js", "utils/fine.js", "pages/index/index.js"}
    after = (bundle / "logic.js").read_text()
    for path in skipped:
        assert module_code(after, path) == module_code(before, path)
    assert "someLocalName" not in after
    with launch(bundle) as mp:
        assert mp.current_page.query_selector(".v").text == "fine 42 true 40000"
        assert mp.errors == []


def test_nesting_deeper_than_terser_takes_with_the_default_limits(tmp_path: Path) -> None:
    depth = 20_000
    deep = "module.exports = " + "[" * depth + "]" * depth + ";\n"
    with Minifier() as m, pytest.raises(MinifyFailed, match="too deeply nested"):
        m.minify("\n" + deep)
    # in a bundle, such a module never reaches terser: deeper than an instance's stack parses, the
    # compiler already made it a module that throws (jssyntax.py); protection keeps it as written
    src = write_project(tmp_path / "p", {"utils/nested.js": deep,
                                         "pages/index/index.js": "require('../../utils/nested.js');\nPage({})\n"})
    compile_project(src, tmp_path / "b")
    protection, doc = protect_bundle(tmp_path / "b")
    assert protection.warnings == []
    assert set(doc["modules"]) == {"app.js", "pages/index/index.js"}
    assert "utils/nested.js:1:1: too deeply nested to parse" in (tmp_path / "b" / "logic.js").read_text()


def test_terser_out_of_memory_or_time_fails_that_module_alone() -> None:
    big = BIG_TABLE
    with Minifier(memory_bytes=48 << 20) as m:
        with pytest.raises(MinifyFailed, match="needed over 48 MB"):
            m.minify(big)
        assert m.minify("\nvar a = 1;")[0] == "var a=1;"  # a fresh engine after the failure
    with Minifier(seconds=0.2) as m:
        started = time.monotonic()
        with pytest.raises(MinifyFailed, match=r"took over 0\.2 s"):
            m.minify(big)
        assert time.monotonic() - started < 10
        assert m.minify("\nvar b = 2;")[0] == "var a=2;"  # top-level names are mangled too


def test_the_time_budget_leaves_the_remaining_modules_as_written(tmp_path: Path) -> None:
    compile_project(EXAMPLES / "todo", tmp_path / "b")
    text = (tmp_path / "b" / "logic.js").read_text()
    ticks = iter(range(1000))
    protection = protect_logic(text, budget_s=1.5, clock=lambda: float(next(ticks)))
    assert 0 < protection.protected < protection.modules
    assert all("ran out" in w.message for w in protection.warnings)
    assert len(protection.warnings) == protection.modules - protection.protected


# ---- @vant/weapp ----------------------------------------------------------------------------------------------


def without_times(value: Any) -> Any:
    """Event data without `timeStamp`s (the clock of two runs differs)."""
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if k != "timeStamp"}
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


@pytest.mark.slow
def test_vant_protected_behaves_as_the_original(tmp_path: Path) -> None:
    from tests.components.test_vant_interaction import PAGES, SCRIPTS, USING
    from tests.components.vant import build_vant_project

    src = build_vant_project(tmp_path / "p", PAGES, USING, SCRIPTS)
    plain, _ = build(src, tmp_path / "plain", protect=False)
    compile_project(src, tmp_path / "prot")
    started = time.monotonic()
    protection, doc = protect_bundle(tmp_path / "prot")
    took = time.monotonic() - started
    # the modules its pages and components can load (logic.js links no other)
    assert protection.warnings == [] and protection.protected == protection.modules > 50
    assert protection.bytes_after < 0.7 * protection.bytes_before
    print(f"vant: {protection.modules} modules protected in {took:.1f} s "
          f"({1000 * took / protection.modules:.0f} ms each), logic.js {protection.bytes_before:,} -> "
          f"{protection.bytes_after:,} bytes, maps {len(json.dumps(doc)):,} bytes")

    def drive(bundle: Path) -> list[Any]:
        seen: list[Any] = []
        with launch(bundle, path="pages/button/index") as mp:
            for name, actions in (("button", [("#b button", "tap")]), ("field", [("#f input", "12.5")]),
                                  ("checkbox", [("#cb .van-checkbox__icon-wrap", "tap")]),
                                  ("stepper", [("#st .van-stepper__plus", "tap")]),
                                  ("dialog", [("#d button.van-dialog__confirm", "tap")]),
                                  ("collapse", [("#co .van-cell", "tap")]), ("tabs", [("#t .van-tab", "tap")])):
                mp.relaunch(f"/pages/{name}/index")
                mp.advance(100)
                for selector, action in actions:
                    node = mp.current_page.query_selector(selector)
                    if action == "tap":
                        node.trigger("tap", {"x": 1, "y": 1})
                    else:
                        node.input(action)
                    mp.advance(400)
                seen.append((name, mp.current_page.root.outer_wxml, without_times(mp.current_page.data)))
            seen.append(mp.errors)
        return seen

    expected = drive(plain)
    assert expected[0][2]["events"][0]["type"] == "click" and expected[-1] == []  # the taps reached the page
    assert drive(tmp_path / "prot") == expected


# ---- the CLI ----------------------------------------------------------------------------------------------------


def test_cli_build_protect_keeps_the_maps_outside_the_bundle(tmp_path: Path) -> None:
    src = write_project(tmp_path / "p", ERRORS_PROJECT)
    out = tmp_path / "dist"
    result = CliRunner().invoke(cli_app, ["build", str(src), "-o", str(out), "--protect"])
    assert result.exit_code == 0, result.output
    assert "protected 5 of 5 JS modules" in result.output
    maps = tmp_path / "dist.sourcemap.json"
    assert maps.is_file() and maps.stat().st_mode & 0o077 == 0
    assert not any("sourcemap" in p.name or p.suffix == ".map" for p in out.rglob("*"))
    assert "helperWithLongName" not in (out / "logic.js").read_text()
    pack(out, app_id="wxprotect", version="1.0.0", build=1, signer=SigningKey.generate())  # packs as is
    doc = json.loads(maps.read_text())
    assert doc["logic_sha256"] == hashlib.sha256((out / "logic.js").read_bytes()).hexdigest()


@pytest.mark.slow
def test_vendor_script_rebuilds_the_same_bytes() -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    script = Path(__file__).resolve().parents[2] / "scripts" / "vendor_terser.sh"
    proc = subprocess.run(["bash", str(script), "--check"], capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "matches a fresh build" in proc.stdout
