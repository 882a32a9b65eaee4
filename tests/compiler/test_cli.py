"""`minibox new` and `minibox build`."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from minibox.cli import app


def test_new_then_build_renders(tmp_path, load_render_js):
    runner = CliRunner()
    res = runner.invoke(app, ["new", str(tmp_path / "demo")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "demo" / "miniprogram" / "app.json").is_file()
    res = runner.invoke(app, ["build", str(tmp_path / "demo"), "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    cfg = json.loads((tmp_path / "out" / "bundle.json").read_text())
    assert cfg["entryPage"] == "pages/index/index"
    r = load_render_js((tmp_path / "out" / "render.js").read_text())
    out = r({"title": "T", "items": [{"id": 1, "name": "One"}]})
    assert out[0]["c"][0] == {"t": "text", "a": {}, "cls": "title", "c": [{"x": "T"}]}
    assert out[0]["c"][1]["k"] == 1 and out[0]["c"][1]["ds"] == {"id": 1}


def test_new_refuses_non_empty_dir(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f").write_text("")
    res = CliRunner().invoke(app, ["new", str(tmp_path / "x")])
    assert res.exit_code == 1


def test_build_errors_exit_1_with_positions(tmp_path):
    runner = CliRunner()
    runner.invoke(app, ["new", str(tmp_path / "demo")])
    (tmp_path / "demo" / "miniprogram" / "pages" / "index" / "index.wxml").write_text("<view>\n<text></view>")
    res = runner.invoke(app, ["build", str(tmp_path / "demo"), "-o", str(tmp_path / "out")])
    assert res.exit_code == 1
    assert "pages/index/index.wxml:2:1: <text> is not closed (found </view>) [wxml-syntax]" in res.output
    # the broken page fails alone: the bundle is written and names it
    assert "open as error pages or empty components: pages/index/index" in res.output
    assert (tmp_path / "out" / "bundle.json").is_file()


def test_build_app_json_error_writes_nothing(tmp_path):
    runner = CliRunner()
    runner.invoke(app, ["new", str(tmp_path / "demo")])
    (tmp_path / "demo" / "miniprogram" / "app.json").write_text('{"pages": [}')
    res = runner.invoke(app, ["build", str(tmp_path / "demo"), "-o", str(tmp_path / "out")])
    assert res.exit_code == 1
    assert "app.json:1:" in res.output and "nothing written" in res.output
    assert not (tmp_path / "out").exists()
