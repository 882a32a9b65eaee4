"""The bundle stage: runs every other stage over a loaded project and assembles the bundle directory
of docs/internals.md section 1 (bundle.json, logic.js, render.js, styles/, assets/)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from . import wxml
from .errors import CompileError, CompileErrors, ErrorSink, line_col
from .logic import check_logic, wrap_module
from .project import Project, load_project
from .wxs import WC_HELPER, CompiledWxs, compile_wxs, resolve_wxs
from .wxss import WxssCompiler, style_scope

BUNDLE_FORMAT = 1
#: Deepest template/include nesting rendered before the rest is dropped (template recursion guard).
MAX_TEMPLATE_DEPTH = 64
#: Largest number a `wx:for="{{n}}"` iterates up to.
MAX_FOR_NUMBER = 100_000
SOURCE_EXTS = (".js", ".wxml", ".wxss", ".wxs")

Progress = Callable[[str, int, int], None]


@dataclass
class Bundle:
    """A compiled bundle: `files` maps output paths ("logic.js", "styles/app.css", ...) to bytes."""

    config: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    out_dir: Path | None = None

    def text(self, name: str) -> str:
        return self.files[name].decode("utf-8")

    @property
    def render_js(self) -> str:
        return self.text("render.js")

    @property
    def logic_js(self) -> str:
        return self.text("logic.js")

    def write(self, out_dir: Path) -> None:
        """Write the bundle; an existing bundle directory is replaced, any other non-empty one refused."""
        if out_dir.exists() and any(out_dir.iterdir()):
            if not (out_dir / "bundle.json").is_file():
                raise CompileErrors(
                    [
                        CompileError(
                            str(out_dir), 1, 1, "output directory is not empty and holds no bundle", "output"
                        )
                    ]
                )
            shutil.rmtree(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            target = out_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        self.out_dir = out_dir


def _runtime_js() -> str:
    return resources.files("minibox.compiler").joinpath("render_runtime.js").read_text("utf-8")


class BundleBuilder:
    def __init__(self, project: Project, sink: ErrorSink, progress: Progress | None = None) -> None:
        self.p = project
        self.sink = sink
        self.progress = progress or (lambda _s, _i, _n: None)

    def by_ext(self, ext: str) -> list[str]:
        return sorted(f for f in self.p.files if f.endswith(ext))

    def build(self) -> Bundle:
        files: dict[str, bytes] = {}
        files["render.js"] = self.render_js().encode("utf-8")
        files["logic.js"] = self.logic_js().encode("utf-8")
        files.update(self.styles())
        files.update(self.assets())
        config = {
            "format": BUNDLE_FORMAT,
            "app": self.p.app,
            "entryPage": self.p.entry_page,
            "pages": {
                k: {"json": v.json, "usingComponents": v.using, "subpackage": v.subpackage}
                for k, v in sorted(self.p.pages.items())
            },
            "components": {
                k: {"json": v.json, "usingComponents": v.using, "styleScope": style_scope(k)}
                for k, v in sorted(self.p.components.items())
            },
            "files": {k: hashlib.sha256(v).hexdigest() for k, v in sorted(files.items())},
        }
        files["bundle.json"] = json.dumps(config, sort_keys=True, ensure_ascii=False, indent=1).encode(
            "utf-8"
        )
        return Bundle(config, files)

    # -- render.js ------------------------------------------------------------------------------------
    def render_js(self) -> str:
        wxml_files = self.by_ext(".wxml")
        compiled: list[wxml.CompiledWxml] = []
        docs = {}
        for k, path in enumerate(wxml_files):
            self.progress(f"WXML {path}", k, len(wxml_files))
            text = self.p.text(path) or ""
            doc = wxml.parse(path, text, self.sink)
            docs[path] = doc

            def resolve(spec: str, kind: str, path: str = path) -> str | None:
                ext = ".wxs" if kind == "wxs" else ".wxml"
                target = wxml.resolve_path(spec, path, ext)
                return target if target is not None and target in self.p.files else None

            compiled.append(wxml.compile_document(doc, self.sink, resolve))
        self.check_include_cycles(compiled, docs)
        wxs_parts: list[CompiledWxs] = []
        exists = self.p.files.__contains__
        for path in self.by_ext(".wxs"):
            src = self.p.text(path) or ""
            out, errs = compile_wxs(path, src, lambda s, path=path: resolve_wxs(s, path, exists))
            self.sink.extend(errs)
            wxs_parts.append(out)
        for c in compiled:
            doc = docs[c.key + ".wxml"]
            for ref in c.wxs:
                if ref.source is None:
                    continue
                out, errs = compile_wxs(
                    ref.path,
                    ref.source,
                    lambda s, f=doc.path: resolve_wxs(s, f, exists),
                    file=doc.path,
                    base_offset=ref.pos,
                    full_source=doc.source,
                )
                self.sink.extend(errs)
                wxs_parts.append(out)
        head = (
            "(function () {\n"
            "var __mb = globalThis.__mb || (globalThis.__mb = {});\n"
            f"var MAX_TEMPLATE_DEPTH = {MAX_TEMPLATE_DEPTH}, MAX_FOR_NUMBER = {MAX_FOR_NUMBER};\n"
            "var WD = (function (__mb_wc) {\nvar WD = Object.create(null);\n"
        )
        body = [head, *(w.js for w in wxs_parts), f"return WD;\n}})({WC_HELPER});\n", _runtime_js()]
        body.extend(c.js for c in compiled)
        body.append("})();\n")
        return "".join(body)

    def check_include_cycles(self, compiled: list[wxml.CompiledWxml], docs: dict[str, Any]) -> None:
        graph = {c.key: c.includes for c in compiled}
        state: dict[str, int] = {}

        def visit(key: str, stack: list[str]) -> None:
            state[key] = 1
            for target, pos in graph.get(key, []):
                if state.get(target) == 1:
                    cycle = (
                        " -> ".join([*stack[stack.index(target) :], target]) if target in stack else target
                    )
                    line, col = line_col(docs[key + ".wxml"].source, pos)
                    self.sink.add(key + ".wxml", line, col, f"<include> cycle: {cycle}", "wxml-include-cycle")
                elif state.get(target) is None:
                    visit(target, [*stack, target])
            state[key] = 2

        for key in graph:
            if key not in state:
                visit(key, [key])

    # -- logic.js -------------------------------------------------------------------------------------
    def logic_js(self) -> str:
        parts = []
        js_files = self.by_ext(".js")
        for k, path in enumerate(js_files):
            self.progress(f"JS {path}", k, len(js_files))
            src = self.p.text(path) or ""
            self.sink.extend(check_logic(path, src))
            parts.append(wrap_module(path, src))
        return "".join(parts)

    # -- styles ---------------------------------------------------------------------------------------
    def styles(self) -> dict[str, bytes]:
        comp = WxssCompiler(self.p.text, self.sink)
        out: dict[str, bytes] = {}
        targets: list[tuple[str, str | None]] = [("app", None)]
        targets += [(page, None) for page in sorted(self.p.pages)]
        targets += [(c, c) for c in sorted(self.p.components)]
        for base, component in targets:
            path = base + ".wxss"
            if path in self.p.files:
                out[f"styles/{base}.css"] = comp.compile(path, component).encode("utf-8")
        return out

    # -- assets ---------------------------------------------------------------------------------------
    def assets(self) -> dict[str, bytes]:
        configs = (
            {"app.json"} | {p + ".json" for p in self.p.pages} | {c + ".json" for c in self.p.components}
        )
        out: dict[str, bytes] = {}
        for path, full in sorted(self.p.files.items()):
            if path.endswith(SOURCE_EXTS) or path in configs:
                continue
            out["assets/" + path] = full.read_bytes()
        return out


def compile_to_memory(src_dir: Path, progress: Progress | None = None) -> Bundle:
    """Compile a project without writing anything. Raises CompileErrors with every error found."""
    sink = ErrorSink()
    project = load_project(Path(src_dir), sink)
    bundle = BundleBuilder(project, sink, progress).build()
    sink.raise_if_any()
    return bundle


def compile_project(src_dir: Path, out_dir: Path, progress: Progress | None = None) -> Bundle:
    """Compile a project into the bundle directory `out_dir` (docs/internals.md section 1)."""
    bundle = compile_to_memory(src_dir, progress)
    bundle.write(Path(out_dir))
    return bundle
