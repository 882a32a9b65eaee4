"""Fixtures: write small projects to tmp dirs, compile them, and run render.js in a real QuickJS context."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import quickjs

from minibox.compiler import Bundle, CompileErrors, compile_to_memory

PAGE = "pages/index/index"


def write_project(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write `files` (path -> text) under root; adds app.json, app.js and the index page when missing."""
    base = {
        "app.json": json.dumps({"pages": [PAGE]}),
        "app.js": "App({})\n",
        f"{PAGE}.js": "Page({})\n",
        f"{PAGE}.wxml": "<view/>\n",
    }
    for rel, content in {**base, **files}.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, "utf-8")
    return root


class Renderer:
    """A compiled bundle loaded into a QuickJS context."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.ctx = quickjs.Context()
        self.ctx.eval(bundle.render_js)

    def __call__(self, data: dict[str, Any] | None = None, path: str = PAGE) -> Any:
        self.ctx.set("__data_json", json.dumps(data or {}))
        return json.loads(
            self.ctx.eval(f"JSON.stringify(__mb.render({json.dumps(path)}, JSON.parse(__data_json)))")
        )

    def eval(self, src: str) -> Any:
        return self.ctx.eval(src)


@pytest.fixture
def project(tmp_path: Path) -> Callable[[dict[str, str | bytes]], Path]:
    def make(files: dict[str, str | bytes]) -> Path:
        return write_project(tmp_path / "proj", files)

    return make


@pytest.fixture
def build(project: Callable[[dict[str, str | bytes]], Path]) -> Callable[..., Bundle]:
    def run(files: dict[str, str | bytes]) -> Bundle:
        return compile_to_memory(project(files))

    return run


@pytest.fixture
def page(build: Callable[..., Bundle]) -> Callable[..., Renderer]:
    """page(wxml, **other_files) -> Renderer for the index page."""

    def run(wxml: str, files: dict[str, str | bytes] | None = None) -> Renderer:
        return Renderer(build({f"{PAGE}.wxml": wxml, **(files or {})}))

    return run


@pytest.fixture
def errors(build: Callable[..., Bundle]) -> Callable[..., list[str]]:
    """errors(files) -> the `file:line:col: message [code]` lines of every error: raised as
    CompileErrors (the app's own files) or carried by the bundle (a file that fails alone)."""

    def run(files: dict[str, str | bytes]) -> list[str]:
        try:
            bundle = build(files)
        except CompileErrors as exc:
            return [str(e) for e in exc.errors]
        assert bundle.errors, "expected compile errors, the build had none"
        return [str(e) for e in sorted(bundle.errors, key=lambda e: (e.file, e.line, e.column))]

    return run


@pytest.fixture
def writer() -> Callable[[Path, dict[str, str | bytes]], Path]:
    return write_project


@pytest.fixture
def load_render_js() -> Callable[[str], Renderer]:
    """Load a render.js text into a fresh QuickJS context."""

    def run(render_js: str) -> Renderer:
        class _B:
            pass

        b = _B()
        b.render_js = render_js  # type: ignore[attr-defined]
        return Renderer(b)  # type: ignore[arg-type]

    return run
