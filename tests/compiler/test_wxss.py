"""WXSS -> CSS: rpx, @import inlining and cycles, unsafe constructs."""

from __future__ import annotations

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


def test_unsafe_css_and_unclosed_comment(errors):
    out = errors({"app.wxss": ".a{width:expression(alert(1))}\n.b{-moz-binding:url(x)}\n/* open"})
    assert out == [
        "app.wxss:1:10: unsafe CSS construct 'expression(' [wxss-unsafe]",
        "app.wxss:2:4: unsafe CSS construct '-moz-binding' [wxss-unsafe]",
        "app.wxss:3:1: unclosed comment [wxss-syntax]",
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
