"""Project stage and bundle output: app.json validation, usingComponents resolution, bundle.json."""

from __future__ import annotations

import hashlib
import json

import pytest

from minibox.compiler import CompileErrors, compile_project


def comp(path: str, using: dict[str, str] | None = None, extra: dict | None = None) -> dict[str, str]:
    return {
        f"{path}.json": json.dumps({"component": True, "usingComponents": using or {}, **(extra or {})}),
        f"{path}.js": "Component({})",
        f"{path}.wxml": "<view><slot/></view>",
    }


def test_bundle_json_shape(build):
    b = build(
        {
            "app.json": json.dumps(
                {
                    "pages": ["pages/index/index", "pages/list/list"],
                    "subPackages": [{"root": "pkgA", "pages": ["cat/cat"]}],
                    "window": {"navigationBarTitleText": "Demo"},
                    "requiredPrivateInfos": ["getLocation"],
                    "sitemapLocation": "sitemap.json",
                }
            ),
            "pages/list/list.js": "Page({})",
            "pages/list/list.wxml": "<view/>",
            "pages/list/list.json": '{"navigationBarTitleText": "List"}',
            "pkgA/cat/cat.js": "Page({})",
            "pkgA/cat/cat.wxml": "<view/>",
            "sitemap.json": "{}",
            "images/logo.png": b"\x89PNG\r\n\x1a\n\x00binary",
        }
    )
    cfg = json.loads(b.files["bundle.json"])
    assert cfg["format"] == 1 and cfg["entryPage"] == "pages/index/index"
    assert cfg["app"]["window"]["navigationBarTitleText"] == "Demo"
    assert cfg["app"]["window"]["navigationBarBackgroundColor"] == "#000000"
    assert cfg["app"]["networkTimeout"]["request"] == 60000
    assert (
        cfg["app"]["subpackages"] == [{"root": "pkgA/", "pages": ["cat/cat"]}]
        and "subPackages" not in cfg["app"]
    )
    assert cfg["app"]["sitemapLocation"] == "sitemap.json" and cfg["app"]["tabBar"] is None
    assert cfg["pages"]["pages/list/list"] == {
        "json": {"navigationBarTitleText": "List"},
        "usingComponents": {},
        "subpackage": None,
    }
    assert cfg["pages"]["pkgA/cat/cat"]["subpackage"] == "pkgA/"
    assert b.files["assets/images/logo.png"] == b"\x89PNG\r\n\x1a\n\x00binary"
    assert "assets/sitemap.json" in b.files and "assets/app.json" not in b.files
    assert set(cfg["files"]) == set(b.files) - {"bundle.json"}
    for name, digest in cfg["files"].items():
        assert hashlib.sha256(b.files[name]).hexdigest() == digest


def test_components_resolved_relative_absolute_global_npm_and_nested(build):
    files = {
        "app.json": json.dumps(
            {"pages": ["pages/index/index"], "usingComponents": {"g-icon": "components/icon/icon"}}
        ),
        "pages/index/index.json": json.dumps(
            {
                "usingComponents": {
                    "card": "../../components/card/card",
                    "abs": "/components/abs/abs",
                    "van-button": "@vant/weapp/button/index",
                    "pkg": "mini-lib",
                }
            }
        ),
        **comp("components/icon/icon"),
        **comp("components/card/card", {"inner": "./inner"}),
        **comp("components/card/inner"),
        **comp("components/abs/abs"),
        **comp("miniprogram_npm/@vant/weapp/button/index", {"van-loading": "../loading/index"}),
        **comp("miniprogram_npm/@vant/weapp/loading/index"),
        **comp("miniprogram_npm/mini-lib/index"),
        "components/unused/unused.json": '{"component": true}',
    }
    cfg = build(files).config
    assert cfg["pages"]["pages/index/index"]["usingComponents"] == {
        "g-icon": "components/icon/icon",
        "card": "components/card/card",
        "abs": "components/abs/abs",
        "van-button": "miniprogram_npm/@vant/weapp/button/index",
        "pkg": "miniprogram_npm/mini-lib/index",
    }
    assert sorted(cfg["components"]) == [
        "components/abs/abs",
        "components/card/card",
        "components/card/inner",
        "components/icon/icon",
        "miniprogram_npm/@vant/weapp/button/index",
        "miniprogram_npm/@vant/weapp/loading/index",
        "miniprogram_npm/mini-lib/index",
    ]
    assert cfg["components"]["components/card/card"]["usingComponents"]["inner"] == "components/card/inner"
    assert cfg["components"]["components/card/card"]["usingComponents"]["g-icon"] == "components/icon/icon"


def test_npm_lookup_walks_up_from_nested_folder(build):
    cfg = build(
        {
            "app.json": json.dumps({"pages": ["pkg/deep/page/page"]}),
            "pkg/deep/page/page.js": "Page({})",
            "pkg/deep/page/page.wxml": "<x/>",
            "pkg/deep/page/page.json": '{"usingComponents": {"x": "lib/x"}}',
            **comp("pkg/miniprogram_npm/lib/x"),
        }
    ).config
    assert cfg["pages"]["pkg/deep/page/page"]["usingComponents"] == {"x": "pkg/miniprogram_npm/lib/x"}


def test_component_generics_pass_through_with_resolved_default(page):
    r = page(
        '<list generic:row="my-row"/>',
        {
            "pages/index/index.json": json.dumps(
                {"usingComponents": {"list": "/c/list/list", "my-row": "/c/row/row"}}
            ),
            **comp(
                "c/list/list", extra={"componentGenerics": {"row": {"default": "../row/row"}, "other": True}}
            ),
            **comp("c/row/row"),
        },
    )
    assert r()[0] == {"t": "list", "a": {"generic:row": "my-row"}, "c": []}
    cfg = r.bundle.config
    assert cfg["components"]["c/list/list"]["json"]["componentGenerics"] == {
        "row": {"default": "c/row/row"},
        "other": True,
    }


def test_missing_page_and_component_errors_name_file_and_key(errors):
    out = errors(
        {
            "app.json": '{\n  "pages": [\n    "pages/index/index",\n    "pages/gone/gone"\n  ]\n}',
            "pages/index/index.json": '{\n  "usingComponents": {\n    "card": "/components/nope"\n  }\n}',
        }
    )
    assert out == [
        "app.json:4:5: pages[1]: page 'pages/gone/gone' not found (missing pages/gone/gone.wxml, pages/gone/gone.js) [missing-page]",
        "pages/index/index.json:3:13: usingComponents.card: component not found: /components/nope [missing-component]",
    ]


def test_app_json_validation(errors):
    out = errors(
        {
            "app.json": json.dumps(
                {
                    "pages": ["pages/index/index", "pages/index/index"],
                    "window": [],
                    "networkTimeout": {"request": -1},
                    "requiredPrivateInfos": ["getFuzzyLocation", "getLocation", "readMind"],
                    "tabBar": {"list": [{"pagePath": "pages/index/index", "text": "A"}]},
                    "usingComponents": {"p": "plugin://x/y"},
                    "permission": {"scope.userLocation": {"desc": "ok"}, "scope.camera": {}},
                }
            )
        }
    )
    joined = "\n".join(out)
    for fragment in [
        "pages[1]: page 'pages/index/index' is listed twice",
        "window: must be an object",
        "networkTimeout: must map API names to positive milliseconds",
        "requiredPrivateInfos: unknown entry 'readMind'",
        "requiredPrivateInfos: getFuzzyLocation cannot be declared together with precise location APIs",
        "tabBar.list: must hold 2 to 5 items",
        "usingComponents.p: plugins are not supported: plugin://x/y",
        "permission.scope.camera: needs a scope.* name and a desc string",
    ]:
        assert f"{fragment}" in joined
    assert all(line.startswith("app.json:") for line in out)
    assert "scope.userLocation" not in joined


def test_invalid_json_and_missing_app_json(errors, tmp_path):
    assert errors({"app.json": '{"pages": [}'}) == ["app.json:1:12: invalid JSON: Expecting value [json]"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(CompileErrors) as info:
        compile_project(tmp_path / "empty", tmp_path / "out")
    assert str(info.value.errors[0]) == "app.json:1:1: app.json not found in the mini-program root [config]"


def test_component_json_must_declare_component(errors):
    out = errors(
        {
            "pages/index/index.json": '{"usingComponents": {"c": "/c/c"}}',
            "c/c.json": "{}",
            "c/c.wxml": "<view/>",
        }
    )
    assert out == [
        'c/c.json:1:1: component: a component\'s .json must declare "component": true [config]',
        "c/c.json:1:1: component 'c/c' has no c/c.js [missing-component]",
    ]


def test_miniprogram_root_and_compile_project_writes_dir(tmp_path, writer):
    src = tmp_path / "src"
    writer(src / "mp", {"app.wxss": ".a{}"})
    (src / "project.config.json").write_text('{"miniprogramRoot": "mp/"}')
    (src / "README.md").write_text("outside the package")
    out = tmp_path / "out"
    bundle = compile_project(src, out)
    assert bundle.out_dir == out
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "bundle.json",
        "diagnostics.json",
        "logic.js",
        "render.js",
        "styles/app.css",
    ]
    cfg = json.loads((out / "bundle.json").read_text())
    assert cfg["entryPage"] == "pages/index/index"
    compile_project(src, out)  # rebuilding replaces an earlier bundle
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("x")
    with pytest.raises(CompileErrors):
        compile_project(src, tmp_path / "busy")
    assert (tmp_path / "busy" / "keep.txt").exists()


def test_bad_miniprogram_root(tmp_path, writer):
    writer(tmp_path, {})
    (tmp_path / "project.config.json").write_text('{\n "miniprogramRoot": "nowhere/"\n}')
    with pytest.raises(CompileErrors) as info:
        compile_project(tmp_path, tmp_path / "out")
    assert (
        str(info.value.errors[0])
        == "project.config.json:2:2: miniprogramRoot: directory not found: nowhere/ [config]"
    )


def test_symlinks_are_refused(project, tmp_path):
    root = project({})
    (tmp_path / "secret.txt").write_text("s")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(CompileErrors) as info:
        compile_project(root, tmp_path / "out")
    assert (
        str(info.value.errors[0])
        == "link.txt:1:1: symbolic links are not allowed in a package [package-file]"
    )


def test_assets_leave_out_what_wechat_never_uploads(build):
    """WeChat uploads only files whose suffix is on its list: TypeScript, style sources, docs and
    source maps never reach a device, nor does the configuration of a component no page uses."""
    b = build({
        "images/a.png": b"png", "data/cities.json": "{}", "fonts/f.ttf": b"ttf",
        "miniprogram_npm/lib/button/index.d.ts": "export {}", "miniprogram_npm/lib/button/index.ts": "x",
        "miniprogram_npm/lib/button/index.js": "Component({})", "miniprogram_npm/lib/button/index.wxml": "<view/>",
        "miniprogram_npm/lib/button/index.json": '{"component": true}',
        "miniprogram_npm/lib/button/data.json": "[]", "styles/theme.less": "@a: 1;", "README.md": "# x",
        "utils/u.js.map": "{}", "utils/u.js": "",
    })
    assets = sorted(k for k in b.files if k.startswith("assets/"))
    assert assets == ["assets/data/cities.json", "assets/fonts/f.ttf", "assets/images/a.png",
                      "assets/miniprogram_npm/lib/button/data.json"]
