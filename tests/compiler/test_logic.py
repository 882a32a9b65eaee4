"""logic.js: every .js wrapped for __mbDefine; eval / new Function refused on tokens, not in strings or comments."""

from __future__ import annotations

import quickjs

from minibox.compiler.logic import check_logic


def codes(src: str) -> list[tuple[int, int, str]]:
    return [(e.line, e.column, e.code) for e in check_logic("a.js", src)]


def test_eval_and_new_function_refused_with_position():
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


def test_unterminated_comment_is_a_syntax_error():
    assert codes("var a; /* never") == [(1, 8, "js-syntax")]


def test_logic_js_wraps_every_module_including_npm(build):
    b = build(
        {
            "utils/util.js": "module.exports = { twice: function (x) { return x * 2 } } // no newline",
            "miniprogram_npm/lib/index.js": "exports.name = 'lib';",
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


def test_eval_refused_in_project_build(errors):
    assert errors({"pages/index/index.js": "Page({ onLoad() {\n  eval('1') } })"}) == [
        "pages/index/index.js:2:3: eval() is not supported in mini-programs [no-eval]"
    ]
