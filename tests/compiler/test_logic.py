"""logic.js: every .js wrapped for __mbDefine, line for line; eval / new Function are warnings (found on
tokens, never in strings or comments): WeChat loads the code and the call throws at run time."""

from __future__ import annotations

import re

import quickjs

from minibox.compiler.logic import LOGIC_FIRST_LINE, check_logic, compile_module


def codes(src: str) -> list[tuple[int, int, str]]:
    found = check_logic("a.js", src)
    assert all(e.is_warning for e in found)
    return [(e.line, e.column, e.code) for e in found]


def test_eval_and_new_function_are_warnings_with_position():
    src = "var a = 1;\n  eval('x');\nvar f = new Function('a', 'return a');\nglobalThis.eval('1'); window.eval ('2')"
    assert codes(src) == [
        (2, 3, "no-eval"),
        (3, 9, "no-new-function"),
        (4, 12, "no-eval"),
        (4, 30, "no-eval"),
    ]


def test_allowed_forms_and_look_alikes():
    src = """
    var g = new Function('return this')();
    var g2 = new Function("return this;")();
    // eval('in a comment') new Function('x')
    /* eval( */ var s = "eval('in a string')" + 'new Function(1)';
    var t = `eval(${1}) text`;
    var re = /eval\\(/g;
    var o = { eval: 1 }; o.eval = 2; math.eval('1+1'); evaluate(1);
    var Function2 = 1; x = a / b / c;
    """
    assert codes(src) == []


def test_eval_inside_template_substitution_is_found():
    assert codes("var t = `a ${eval('1')} b`;") == [(1, 14, "no-eval")]


def test_unterminated_comment_is_left_to_the_engine():
    assert codes("var a; /* never") == []
    mod = compile_module("a.js", "var a; /* never")
    assert [(e.line, e.code) for e in mod.errors] == [(1, "js-syntax")] and mod.failed_text


def test_logic_js_wraps_every_module_including_npm(build):
    b = build(
        {
            "utils/util.js": "module.exports = { twice: function (x) { return x * 2 } } // no newline",
            "miniprogram_npm/lib/index.js": "exports.name = 'lib';",
            "app.js": "App({ util: require('./utils/util'), lib: require('lib') })\n",
        }
    )
    ctx = quickjs.Context()
    ctx.eval("var mods = {}; function __mbDefine(p, f) { mods[p] = f; }")
    ctx.eval(b.logic_js)
    assert ctx.eval("Object.keys(mods).sort().join()") == (
        "app.js,miniprogram_npm/lib/index.js,pages/index/index.js,utils/util.js"
    )
    assert (
        ctx.eval("var m = {exports: {}}; mods['utils/util.js'](null, m, m.exports); m.exports.twice(21)")
        == 42
    )


def test_every_source_line_keeps_its_number(build):
    src = "import x from './x'\nconst a = 1\n\nexport function f() {\n  return a + 1\n}\nx()\n"
    b = build({"utils/m.js": src, "utils/x.js": "module.exports = 1", "app.js": "require('./utils/m'); App({})\n"})
    lines = b.logic_js.split("\n")
    [define] = [i + 1 for i, line in enumerate(lines) if line.startswith('__mbDefine("utils/m.js"')]
    assert define >= LOGIC_FIRST_LINE
    m = re.search(r'\}, (\d+), (\d+), \[(\d+),1\]\);', b.logic_js[b.logic_js.index('__mbDefine("utils/m.js"'):])
    assert m and int(m.group(1)) == define and int(m.group(2)) == src.count("\n") + 1
    assert lines[define - 1][int(m.group(3)) - 1 :].startswith('var _mb$0 = require("./x")')  # import at line 1
    for k, original in enumerate(src.split("\n"), start=1):
        if original.strip() and not original.startswith(("import", "export")):
            assert lines[define - 1 + k].strip() == original.strip().replace("x()", ";(0, _mb$0d.default)()")


def test_eval_is_a_warning_in_a_project_build(build):
    b = build({"pages/index/index.js": "Page({ onLoad() {\n  eval('1') } })"})
    assert [str(w) for w in b.warnings if w.code == "no-eval"] == [
        "pages/index/index.js:2:3: warning: eval() is not supported in mini-programs: the call throws at run time "
        "[no-eval]"
    ]
    assert "eval('1')" in b.logic_js


def test_syntax_error_in_an_es_module_names_its_own_line():
    mod = compile_module("a.js", "import x from './x'\nconst a = ;\n")
    assert [(e.line, e.code) for e in mod.errors] == [(2, "js-syntax")]
    mod = compile_module("a.js", "import { a from './x'\n")
    assert [(e.line, e.code) for e in mod.errors] == [(1, "js-syntax")]


def test_strict_mode_applies_to_es_modules_only():
    assert compile_module("a.js", "with (o) { x }\nexport default 1\n").errors
    assert not compile_module("a.js", "with (o) { x }\nmodule.exports = 1\n").errors


def test_json_required_by_literal_becomes_a_module(build):
    b = build({"utils/m.js": "module.exports = require('./data.json')", "utils/data.json": '{"a": 1}',
               "utils/unused.json": "{}"})
    assert '__mbDefine("utils/data.json"' in b.logic_js and "utils/unused.json" not in b.logic_js


def test_regex_after_a_condition_is_scanned_as_a_regex():
    from minibox.compiler.jstokens import tokenize

    toks = tokenize("if (ok) /'/.test(s)\nwhile (a) /\"/g.exec(t)\nx = (a) / 2 / 1")
    assert [t.value for t in toks if t.kind == "regex"] == ["/'/", '/"/g']
    assert [t.value for t in toks if t.value == "/"] == ["/", "/"]


def test_logic_js_links_only_what_app_pages_and_components_can_load(build):
    """Modules run when first required: one that app.js, a page or a component cannot reach by any
    chain of literal requires never runs, and is compiled and checked but not linked. One require
    whose argument is computed, anywhere among the reachable modules, and every module is linked."""
    files = {
        "app.js": "const u = require('./utils/used'); App({})\n",
        "utils/used.js": "module.exports = require('dep') + require.async('./lazy').toString()",
        "miniprogram_npm/dep/index.js": "module.exports = 1",
        "utils/lazy.js": "module.exports = 2",
        "utils/lost.js": "module.exports = require('./lost-too')",
        "utils/lost-too.js": "module.exports = 3",
        "utils/bad.js": "var = ;",
    }

    def linked(b):
        return sorted(re.findall(r'__mbDefine\("([^"]+\.js)"', b.logic_js))

    b = build(files)
    assert linked(b) == ["app.js", "miniprogram_npm/dep/index.js", "pages/index/index.js", "utils/lazy.js",
                         "utils/used.js"]
    assert any(e.file == "utils/bad.js" for e in b.errors)  # compiled all the same
    everything = ["app.js", "miniprogram_npm/dep/index.js", "pages/index/index.js", "utils/bad.js", "utils/lazy.js",
                  "utils/lost-too.js", "utils/lost.js", "utils/used.js"]
    for dynamic in ("require('./utils/' + name)", "require(`./utils/${name}`)", "(0, require)('./x')",
                    "typeof require", "require.async(name)", "import(name)"):
        b = build({**files, "pages/index/index.js": f"var name = 'lost'; Page({{ f() {{ return {dynamic} }} }})\n"})
        assert linked(b) == everything, dynamic
    # what cannot be reached cannot load anything: a computed require there changes nothing
    b = build({**files, "utils/lost.js": "module.exports = require('./' + 'lost-too')"})
    assert "utils/lost-too.js" not in linked(b)
