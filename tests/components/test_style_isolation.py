"""WXSS style isolation: component sheets and class lists share a per-component scope."""

from __future__ import annotations

from pathlib import Path

from minibox.compiler.wxss import scope_sheet, style_scope
from minibox.testing import compile_cached, launch

CARD = "components/card/card"
BADGE = "components/badge/badge"


def project(make_project) -> Path:
    return make_project({
        "app.wxss": ".title { color: black; }",
        f"{CARD}.json": {"component": True, "usingComponents": {"badge": "/components/badge/badge"}},
        f"{CARD}.wxml": '<view class="title inner-class">card</view><badge custom-class="inner-class tone"/>',
        f"{CARD}.wxss": ":host { display: block } .title { color: red } .tone { color: blue }",
        f"{CARD}.js": "Component({ externalClasses: ['inner-class'] })",
        f"{BADGE}.json": {"component": True},
        f"{BADGE}.wxml": '<text class="badge custom-class">1</text>',
        f"{BADGE}.wxss": ".badge { font-size: 10px }",
        f"{BADGE}.js": "Component({ externalClasses: ['custom-class'], options: { addGlobalClass: true } })",
        "pages/p/p.json": {"usingComponents": {"card": "/components/card/card"}},
        "pages/p/p.wxml": '<card class="outer" inner-class="big"/><view class="title">page</view>',
        "pages/p/p.wxss": ".big { font-size: 20px }",
    })


def test_component_sheets_are_scoped(make_project) -> None:
    bundle = compile_cached(project(make_project))
    card = (bundle / "styles" / f"{CARD}.css").read_text()
    s = style_scope(CARD)
    assert s.startswith("c") and len(s) == 8
    assert f".{s}--_host {{ display: block }}" in card and f".{s}--title {{ color: red }}" in card
    assert (bundle / "styles" / "app.css").read_text().strip() == ".title { color: black; }"  # global
    assert "--" not in (bundle / "styles" / "pages/p/p.css").read_text()


def test_class_lists_follow_scope_external_classes_and_add_global_class(make_project) -> None:
    card, badge = style_scope(CARD), style_scope(BADGE)
    with launch(project(make_project)) as mp:
        page = mp.current_page
        host = mp.view.pages[page.id].root.children[0]
        assert host.class_name == f"outer {card}--_host"  # the page's class, and :host
        inner = page.query_selector("card view")
        # its own class in its scope; the external class resolves to the page's (global) "big"
        assert inner.node.class_name == f"{card}--title big"
        text = page.query_selector("card badge text")
        # badge is apply-shared: its own class twice; custom-class came from card, in card's scope
        assert text.node.class_name == f"{badge}--badge badge big {card}--tone"
        assert page.query_selector(".title").text == "card"  # selectors see classes as written
        assert page.query_selector_all(".title")[1].node.class_name == "title"  # page: global


def test_scope_sheet_leaves_at_rules_strings_and_attributes_alone() -> None:
    css = ('@media (max-width: 10px) { .a { top: 0 } } @keyframes k { 0% { opacity: .5 } } '
           '.x[data-y=".z"]:hover, .x::after { content: ".q" } :host(.on) .b { left: 0 }')
    out = scope_sheet(css, "c/x")
    s = style_scope("c/x")
    assert f"@media (max-width: 10px) {{ .{s}--a {{ top: 0 }} }}" in out
    assert "@keyframes k { 0% { opacity: .5 } }" in out
    assert f'.{s}--x[data-y=".z"]:hover, .{s}--x::after {{ content: ".q" }}' in out
    assert f".{s}--_host.{s}--on .{s}--b {{ left: 0 }}" in out
