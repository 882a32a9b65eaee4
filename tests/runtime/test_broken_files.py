"""One broken file fails alone: a page whose WXML, WXSS, JSON or JS cannot be compiled, or whose
module throws at load, opens as an error page; App.onError hears of it; every other page runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from minibox.compiler import CompileErrors, compile_to_memory
from minibox.testing import launch

PAGES = ["pages/ok/ok", "pages/badxml/badxml", "pages/badjs/badjs", "pages/throws/throws",
         "pages/badcss/badcss", "pages/usesbad/usesbad", "pages/badjson/badjson"]


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, "utf-8")
    return root


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    files = {
        "app.json": json.dumps({"pages": PAGES}),
        "app.js": "App({ errors: [], onError(msg) { this.errors.push(String(msg)); } })\n",
        "utils/boom.js": "var x = 1;\nthrow new Error('boom at load');\n",
        "utils/fine.js": "module.exports = { n: 42 };\n",
        "components/bad/bad.json": '{"component": true}',
        "components/bad/bad.js": "Component({})\n",
        "components/bad/bad.wxml": "<view>\n<text></view>\n",
    }
    for page in PAGES:
        files[page + ".js"] = "var f = require('../../utils/fine.js');\nPage({ data: { n: f.n } })\n"
        files[page + ".wxml"] = '<view class="n">{{n}}</view>\n'
    files["pages/badxml/badxml.wxml"] = "<view>\n  <text>{{n}</text>\n</view>\n<view"
    files["pages/badjs/badjs.js"] = "Page({\n  data: { n: 1 },\n  onLoad() { var = 2; }\n})\n"
    files["pages/throws/throws.js"] = "require('../../utils/boom.js');\nPage({})\n"
    files["pages/badcss/badcss.wxss"] = ".a { color: red; }\n@import url(https://evil.example/x.css);\n"
    files["pages/usesbad/usesbad.json"] = '{"usingComponents": {"bad": "/components/bad/bad"}}'
    files["pages/usesbad/usesbad.wxml"] = '<view class="n">{{n}}</view><bad/>\n'
    files["pages/badjson/badjson.json"] = '{"navigationBarTitleText": }'
    return write(tmp_path / "app", files)


def test_bundle_names_what_is_broken_and_keeps_the_rest(app_dir: Path) -> None:
    bundle = compile_to_memory(app_dir)
    broken = bundle.broken
    assert set(broken) == {"pages/badxml/badxml", "pages/badjs/badjs", "pages/badcss/badcss",
                           "pages/badjson/badjson", "components/bad/bad"}
    assert any(r.startswith("pages/badjs/badjs.js:3:") and "SyntaxError" in r for r in broken["pages/badjs/badjs"])
    assert all(e.file and e.line >= 1 and e.column >= 1 for e in bundle.errors)
    # the good pages are compiled; the broken WXML is not in render.js at all
    assert '"pages/ok/ok"' in bundle.render_js and '"pages/badxml/badxml"' not in bundle.render_js
    assert "styles/pages/badcss/badcss.css" not in bundle.files
    diagnostics = json.loads(bundle.files["diagnostics.json"])
    assert len(diagnostics["errors"]) == len(bundle.errors)


def test_each_broken_page_opens_as_an_error_page_and_the_app_runs_on(app_dir: Path) -> None:
    with launch(app_dir, path="pages/ok/ok") as mp:
        assert mp.current_page.query_selector(".n").text == "42"
        for page in PAGES[1:]:
            res = mp.relaunch("/" + page)
            assert res["errMsg"] == "reLaunch:ok"
            cur = mp.current_page
            assert cur.path == page
            if page == "pages/usesbad/usesbad":
                # a broken component renders as an empty element; its page runs
                assert cur.query_selector(".n").text == "42"
                continue
            if page == "pages/badcss/badcss":
                title = cur.query_selector(".mb-error-page__title")
                assert title is not None and "could not be opened" in title.text
                continue
            title = cur.query_selector(".mb-error-page__title")
            assert title is not None, page
            reasons = [e.text for e in cur.query_selector_all(".mb-error-page__reason")]
            assert reasons, page
        # every failure reached App.onError; the good page still works after all of them
        messages = [e.get("message", "") for e in mp.errors]
        assert any("boom at load" in m for m in messages)
        assert any("pages/badxml/badxml.wxml:2:" in m for m in messages)
        assert any("components/bad/bad.wxml:2:" in m for m in messages)
        mp.relaunch("/pages/ok/ok")
        assert mp.current_page.query_selector(".n").text == "42"


def test_error_in_app_files_still_fails_the_whole_app(app_dir: Path) -> None:
    (app_dir / "app.js").write_text("App({ onLaunch() { var = 1 } })\n")
    with pytest.raises(CompileErrors) as info:
        compile_to_memory(app_dir)
    assert any(e.file == "app.js" and e.code == "js-syntax" for e in info.value.errors)


def test_tabbar_item_without_text_is_a_warning_at_its_own_line(tmp_path: Path) -> None:
    app_json = (
        '{\n  "pages": ["pages/a/a", "pages/b/b"],\n  "tabBar": {\n    "list": [\n'
        '      {"pagePath": "pages/a/a", "text": "A"},\n'
        '      {"pagePath": "pages/b/b", "iconPath": "b.png"}\n    ]\n  }\n}\n'
    )
    files = {"app.json": app_json, "app.js": "App({})\n"}
    for p in ("pages/a/a", "pages/b/b"):
        files[p + ".js"] = "Page({})\n"
        files[p + ".wxml"] = "<view/>\n"
    bundle = compile_to_memory(write(tmp_path / "tab", files))
    assert not bundle.errors
    [w] = bundle.warnings
    assert (w.file, w.line, w.code) == ("app.json", 6, "config")
    assert "tabBar.list[1].text" in w.message and w.is_warning


def test_compiled_output_that_does_not_parse_fails_its_own_file(app_dir: Path, monkeypatch) -> None:
    """A safety net under the WXML and WXS stages: whatever they emit is parsed by the engine, and a
    chunk that does not parse breaks its own page, never the whole render.js."""
    from minibox.compiler import bundle as bundle_mod

    real = bundle_mod.wxml.compile_document

    def compile_document(doc, sink, resolve):
        out = real(doc, sink, resolve)
        if doc.path == "pages/usesbad/usesbad.wxml":
            out.js += "\nFD['x'] = function ( {;\n"
        return out

    monkeypatch.setattr(bundle_mod.wxml, "compile_document", compile_document)
    bundle = compile_to_memory(app_dir)
    assert "pages/usesbad/usesbad" in bundle.broken
    assert any(e.code == "internal" and e.file == "pages/usesbad/usesbad.wxml" for e in bundle.errors)
    with launch(app_dir, path="pages/ok/ok") as mp:  # the rest of render.js still runs
        assert mp.current_page.query_selector(".n").text == "42"


def test_a_module_nested_too_deeply_for_the_engine_fails_alone(tmp_path: Path) -> None:
    """A module the compile-time parser takes but the instance's 4 MiB stack cannot would fail all of
    logic.js at launch: the check parses with a smaller stack, so that module alone throws."""
    depth = 20_000
    root = write(tmp_path / "app", {
        "app.json": json.dumps({"pages": ["pages/ok/ok", "pages/deep/deep"]}),
        "app.js": "App({})\n",
        "pages/ok/ok.js": "Page({ data: { n: 42 } })\n",
        "pages/ok/ok.wxml": '<view class="n">{{n}}</view>\n',
        "pages/deep/deep.js": "var a = " + "[" * depth + "]" * depth + ";\nPage({})\n",
        "pages/deep/deep.wxml": "<view/>\n",
    })
    bundle = compile_to_memory(root)
    assert any("too deeply nested" in r for r in bundle.broken["pages/deep/deep"])
    with launch(root, path="pages/ok/ok") as mp:
        assert mp.current_page.query_selector(".n").text == "42"
        mp.relaunch("/pages/deep/deep")
        assert mp.current_page.query_selector(".mb-error-page__title") is not None
        mp.relaunch("/pages/ok/ok")
        assert mp.current_page.query_selector(".n").text == "42"
