"""usingComponents resolved as WeChat does: relative, absolute, app.json globals, miniprogram_npm
looked up walking up from the using file; and require() of npm packages from component code."""

from __future__ import annotations

from minibox.testing import launch


def _comp(text: str) -> dict[str, object]:
    return {"js": "Component({})", "wxml": f"<view class='r'>{text}</view>", "json": {"component": True}}


def test_using_components_resolution(make_project) -> None:
    files: dict[str, object] = {
        "app.json": {"pages": ["pages/shop/deep/p"], "usingComponents": {"g-badge": "/components/badge/badge"}},
        "pages/shop/deep/p.wxml": "<rel/><abs/><g-badge/><npm-a/><npm-b/><npm-near/>",
        "pages/shop/deep/p.json": {"usingComponents": {
            "rel": "../../../components/rel/rel",       # relative to the page
            "abs": "/components/abs/abs",               # package absolute
            "npm-a": "pkg-a",                           # npm package main component (index)
            "npm-b": "pkg-b/button/index",              # a component inside an npm package
            "npm-near": "pkg-near",                     # the nearest miniprogram_npm wins
        }},
        "pages/shop/deep/p.js": "Page({})",
        "pages/shop/miniprogram_npm/pkg-near/index.js": "Component({})",
        "pages/shop/miniprogram_npm/pkg-near/index.wxml": "<view class='r'>near</view>",
        "pages/shop/miniprogram_npm/pkg-near/index.json": {"component": True},
        "miniprogram_npm/pkg-near/index.js": "Component({})",
        "miniprogram_npm/pkg-near/index.wxml": "<view class='r'>far</view>",
        "miniprogram_npm/pkg-near/index.json": {"component": True},
        # npm component code requiring its own package files and another npm package
        "miniprogram_npm/pkg-a/index.js": "const { label } = require('./util'); const dep = require('pkg-dep');"
                                          " Component({ data: { t: label + dep.suffix } })",
        "miniprogram_npm/pkg-a/util.js": "module.exports = { label: 'npm-a' }",
        "miniprogram_npm/pkg-a/index.wxml": "<view class='r'>{{t}}</view>",
        "miniprogram_npm/pkg-a/index.json": {"component": True},
        "miniprogram_npm/pkg-dep/index.js": "module.exports = { suffix: '+dep' }",
        "miniprogram_npm/pkg-b/button/index.js": "Component({})",
        "miniprogram_npm/pkg-b/button/index.wxml": "<view class='r'>npm-b</view>",
        "miniprogram_npm/pkg-b/button/index.json": {"component": True},
    }
    for name, text in [("rel", "rel"), ("abs", "abs"), ("badge", "global")]:
        c = _comp(text)
        for ext in ("js", "wxml", "json"):
            files[f"components/{name}/{name}.{ext}"] = c[ext]
    project = make_project(files)
    with launch(project) as mp:
        texts = [e.text for e in mp.current_page.query_selector_all(".r")]
        assert texts == ["rel", "abs", "global", "npm-a+dep", "npm-b", "near"]
        assert mp.errors == []
