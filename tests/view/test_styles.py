"""Compiled WXSS -> the browser stylesheet: tag renaming, page and component scoping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from minibox.testing import compile_cached
from minibox.view.styles import (
    BUILTIN_TAGS,
    MAX_SHEET_BYTES,
    bundle_sheet,
    custom_tags,
    rename_selector,
    rename_sheet,
)

from .conftest import EXAMPLES

TAGS = BUILTIN_TAGS | {"my-card"}


@pytest.mark.parametrize(("selector", "expected"), [
    ("view", "wx-view"), ("page", "wx-page"), ("view.a > text", "wx-view.a > wx-text"),
    (".view", ".view"), ("#view", "#view"), ("view-x", "view-x"), ("[type=view] view", "[type=view] wx-view"),
    ("view:not(text)", "wx-view:not(wx-text)"), ("my-card .x, button+input", "wx-my-card .x, wx-button+wx-input"),
    ("p span", "p span"), ("a[href='view']", "a[href='view']"), ("view::after", "wx-view::after"),
    ("scroll-view ~ swiper-item", "wx-scroll-view ~ wx-swiper-item"),
])
def test_rename_selector(selector: str, expected: str) -> None:
    assert rename_selector(selector, TAGS) == expected


def test_rename_page_root() -> None:
    assert rename_selector("page .a, page", TAGS - {"page"}, root="page") == ":scope .a, :scope"
    assert rename_sheet("@media print { page { color: red } }", TAGS, root="page") == "@media print { :scope { color: red } }"


def test_rename_sheet_recurses_into_media_and_keeps_keyframes() -> None:
    css = ("@media (max-width: 100px) { view { color: red; } }\n@keyframes view { from { opacity: 0 } to { opacity: 1 } }\n"
           "@font-face { font-family: x; src: url('a.woff'); }\ntext { content: '}'; }\n@charset 'utf-8';")
    out = rename_sheet(css, TAGS)
    assert "@media (max-width: 100px) { wx-view { color: red; } }" in out
    assert "@keyframes view { from { opacity: 0 } to { opacity: 1 } }" in out
    assert "wx-text { content: '}'; }" in out
    assert "@font-face { font-family: x; src: url('a.woff'); }" in out


def test_bundle_sheet_scopes_pages_and_components() -> None:
    bundle = compile_cached(EXAMPLES / "shop")
    sheet = bundle_sheet(bundle)
    assert sheet.startswith("/* app.wxss */")
    assert "/* components/product-card/product-card.wxss */" in sheet
    assert '@scope (wx-page[data-mb-path="pages/home/home"]) {' in sheet
    assert "wx-page {" in sheet and "calc(var(--rpx) * " in sheet
    todo = bundle_sheet(compile_cached(EXAMPLES / "todo"))
    assert ':scope { background: #f6f6f6;' in todo  # `page` in a page sheet is the scope root
    assert custom_tags(json.loads((bundle / "bundle.json").read_text()))["components/product-card/product-card"] == {"product-card"}


def test_bundle_sheet_size_limit(tmp_path: Path) -> None:
    (tmp_path / "styles").mkdir()
    (tmp_path / "bundle.json").write_text(json.dumps({"app": {}, "pages": {}, "components": {}}))
    (tmp_path / "styles" / "app.css").write_text(".a{}" * (MAX_SHEET_BYTES // 4 + 1))
    with pytest.raises(ValueError, match="larger than"):
        bundle_sheet(tmp_path)
