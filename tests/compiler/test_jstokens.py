"""The JS scanner behind the logic checks and the WXS rewriter."""

from __future__ import annotations

import pytest

from minibox.compiler.jstokens import JsSyntaxError, tokenize


def kinds(src: str) -> list[tuple[str, str]]:
    return [(t.kind, t.value) for t in tokenize(src)]


def test_regex_versus_division():
    assert kinds("a / b / c") == [("ident", "a"), ("punct", "/"), ("ident", "b"), ("punct", "/"), ("ident", "c")]
    assert kinds("x = /'[/]'/g.test(y)")[2] == ("regex", "/'[/]'/g")
    assert kinds("return /a/")[1] == ("regex", "/a/")
    assert kinds("(a) / 2")[3] == ("punct", "/")


def test_template_literals_with_nested_substitutions():
    toks = kinds("`a ${ {b: `c ${d}`}.b } e` + f")
    assert toks[0] == ("template", "`a ${")
    assert ("ident", "d") in toks and toks[-1] == ("ident", "f")


def test_comments_strings_and_numbers():
    assert kinds("1.5e3 /* x */ 'a\\'b' // y\n0x1F 10n .5") == [
        ("num", "1.5e3"),
        ("str", "'a\\'b'"),
        ("num", "0x1F"),
        ("num", "10n"),
        ("num", ".5"),
    ]


@pytest.mark.parametrize("src", ["'abc", "`abc", "/* abc", "x = /abc"])
def test_unterminated_input(src):
    with pytest.raises(JsSyntaxError):
        tokenize(src)


def test_render_js_defines_only_mb_global(build):
    import quickjs

    ctx = quickjs.Context()
    before = ctx.eval("Object.getOwnPropertyNames(globalThis).join()")
    ctx.eval(build({"a.wxs": "module.exports = 1;"}).render_js)
    after = ctx.eval("Object.getOwnPropertyNames(globalThis).join()")
    assert set(after.split(",")) - set(before.split(",")) == {"__mb"}
