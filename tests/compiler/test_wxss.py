"""WXSS -> CSS: rpx, @import inlining and cycles, unsafe constructs."""

from __future__ import annotations

from minibox.compiler import compile_to_memory
from minibox.compiler.wxss import convert_rpx, style_scope


def test_rpx_conversion():
    css = '.a{width:750rpx;margin:-10rpx .5rpx 0 1.5RPX;content:"10rpx";background:url(a-10rpx.png)}.x10rpx{}'
    assert convert_rpx(css) == (
        ".a{width:calc(var(--rpx) * 750);margin:calc(var(--rpx) * -10) calc(var(--rpx) * 0.5) 0 "
        'calc(var(--rpx) * 1.5);content:"10rpx";background:url(a-10rpx.png)}.x10rpx{}'
    )


def test_import_inlined_relative_and_absolute(build):
    b = build(
        {
            "app.wxss": '@import "common/base.wxss";\n.app{top:2rpx}',
            "common/base.wxss": "@import '/common/reset';\n.base{left:1rpx}",
            "common/reset.wxss": "/* reset */ * {margin:0}",
            "pages/index/index.wxss": '@import url("../../common/reset.wxss");\n.page{}',
        }
    )
    app = b.text("styles/app.css")
    assert (
        "* {margin:0}" in app
        and ".base{left:calc(var(--rpx) * 1)}" in app
        and app.index("margin:0") < app.index(".app")
    )
    assert "@import" not in app
    assert "* {margin:0}" in b.text("styles/pages/index/index.css")


def test_import_cycle_and_missing_and_url(errors):
    out = errors(
        {
            "app.wxss": '@import "a.wxss";',
            "a.wxss": '.a{}\n@import "b.wxss";',
            "b.wxss": '@import "a.wxss";\n@import "nope.wxss";\n@import url(https://evil.example/x.css);',
        }
    )
    assert out == [
        "b.wxss:1:1: @import cycle: a.wxss -> b.wxss -> a.wxss [wxss-import-cycle]",
        "b.wxss:2:1: imported stylesheet not found: nope.wxss [wxss-import]",
        "b.wxss:3:1: @import of a URL outside the package: https://evil.example/x.css [wxss-import]",
    ]


def test_unsafe_css_is_an_error_and_unclosed_comment_a_warning(errors, project):
    out = errors({"app.wxss": ".a{width:expression(alert(1))}\n.b{-moz-binding:url(x)}\n/* open"})
    assert out == [
        "app.wxss:1:10: unsafe CSS construct 'expression(' [wxss-unsafe]",
        "app.wxss:2:4: unsafe CSS construct '-moz-binding' [wxss-unsafe]",
    ]
    # as WeChat's wcsc: the rest of the file is a comment
    bundle = compile_to_memory(project({"app.wxss": ".a{b:c}\n/* open"}))
    assert [str(w) for w in bundle.warnings] == [
        "app.wxss:2:1: warning: unclosed comment: the rest of the file is ignored [wxss-comment]"
    ]


def test_broken_structure_is_an_error(errors):
    # what WeChat's wcsc refuses (see test_wcsc_differential.py)
    out = errors({"app.wxss": '.a{b:c}}\n', "pages/index/index.wxss": '.a{b:"x}\n.c{d:e;;}\n{}\n.e{'})
    assert out == [
        "app.wxss:1:8: unexpected '}' [wxss-syntax]",
        "pages/index/index.wxss:1:6: unterminated string [wxss-syntax]",
    ]
    out = errors({"app.wxss": ".c{d:e;;}\n", "pages/index/index.wxss": "{}\n", "a.wxss": ".e{"})
    assert out == [
        "app.wxss:1:8: empty declaration (';;') [wxss-syntax]",
        "pages/index/index.wxss:1:1: a rule without a selector [wxss-syntax]",
    ]


def test_component_sheets_are_written(build):
    b = build(
        {
            "pages/index/index.json": '{"usingComponents": {"card": "/components/card/card"}}',
            "components/card/card.json": '{"component": true}',
            "components/card/card.js": "Component({})",
            "components/card/card.wxml": "<view/>",
            "components/card/card.wxss": ".card{padding:20rpx}",
        }
    )
    scope = style_scope("components/card/card")  # component sheets are isolated by class prefix
    assert b.text("styles/components/card/card.css") == f".{scope}--card{{padding:calc(var(--rpx) * 20)}}"
    assert b.config["components"]["components/card/card"]["styleScope"] == scope


def test_javascript_scheme_is_refused_but_not_inside_a_name(errors, build):
    out = errors({"app.wxss": '.a{background:url("javascript:alert(1)")}\n.b{background:url( JavaScript :x)}'})
    assert out == [
        "app.wxss:1:20: unsafe CSS construct 'javascript:' [wxss-unsafe]",
        "app.wxss:2:20: unsafe CSS construct 'JavaScript :' [wxss-unsafe]",
    ]
    # an icon font's selector (wux-weapp's ion-logo-javascript) is a name, not a URL
    bundle = build({"app.wxss": ".ion-logo-javascript::before { content: '\\f2b2'; }\n.javascript:hover{x:y}"})
    assert not bundle.errors


def test_an_import_missing_its_semicolon_at_the_end_is_accepted(build):
    # found by the wcsc differential: `@import '../common/index.wxss'` as a sheet's last line (no `;`)
    bundle = build({"app.wxss": ".a{color:red}\n@import 'b.wxss'", "b.wxss": ".b{color:blue}"})
    assert not bundle.errors
    assert [w.code for w in bundle.warnings] == ["wxss-import"]
    assert ".b" in bundle.text("styles/app.css")
