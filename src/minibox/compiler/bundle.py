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
from .jssyntax import check_syntax
from .logic import build_logic
from .project import Project, load_project
from .wxs import WC_HELPER, CompiledWxs, compile_wxs, resolve_wxs
from .wxss import WxssCompiler, style_scope

BUNDLE_FORMAT = 1
#: Deepest template/include nesting rendered before the rest is dropped (template recursion guard).
MAX_TEMPLATE_DEPTH = 64
#: Largest number a `wx:for="{{n}}"` iterates up to.
MAX_FOR_NUMBER = 100_000
SOURCE_EXTS = (".js", ".wxml", ".wxss", ".wxs")
#: Files of development only, never among the assets: WeChat uploads only files whose suffix is on
#: its list (images, audio and video, json, wxs, wasm, certificates...), and none of these is, so a
#: mini-program can never read them (TypeScript sources and declarations, which npm libraries such
#: as @vant/weapp ship beside every module; style sources; documentation; source maps).
NOT_UPLOADED = (".ts", ".tsx", ".less", ".scss", ".sass", ".styl", ".md", ".map")
#: The compiler's errors and warnings, kept in the bundle for the platform's check report.
DIAGNOSTICS_FILE = "diagnostics.json"
#: Files whose errors fail the whole app: without them no page can run.
APP_FILES = frozenset({"app.json", "app.js", "app.wxss", "project.config.json"})
#: Error codes that fail the whole app wherever they are (the package itself is unacceptable).
FATAL_CODES = frozenset({"package-file", "output"})
#: Error codes in app.json that concern one page only (that page is not found at run time).
PAGE_CODES = frozenset({"missing-page"})
#: Errors of a broken page or component kept in bundle.json for its error page.
MAX_BROKEN_REASONS = 5

Progress = Callable[[str, int, int], None]


@dataclass
class Bundle:
    """A compiled bundle: `files` maps output paths ("logic.js", "styles/app.css", ...) to bytes."""

    config: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    out_dir: Path | None = None
    #: Errors of files that fail alone (their pages open as error pages) and warnings.
    errors: list[CompileError] = field(default_factory=list)
    warnings: list[CompileError] = field(default_factory=list)

    @property
    def broken(self) -> dict[str, list[str]]:
        """Pages and components that cannot run, with the first errors that broke them."""
        return self.config.get("broken", {})

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


def _place(e: CompileError) -> tuple[str, int, int]:
    return (e.file, e.line, e.column)


def _runtime_js() -> str:
    return resources.files("minibox.compiler").joinpath("render_runtime.js").read_text("utf-8")


class BundleBuilder:
    def __init__(self, project: Project, sink: ErrorSink, progress: Progress | None = None, *,
                 keep_unreachable: bool = False) -> None:
        self.p = project
        #: render.js keeps every WXML and WXS file and logic.js every module, also those no page or
        #: component reaches (for tools that take each file on its own, such as the differential
        #: tests against wcc)
        self.keep_unreachable = keep_unreachable
        self.sink = sink
        self.progress = progress or (lambda _s, _i, _n: None)
        #: WXML key -> (imported and included keys, .wxs files) for the broken-unit closure
        self.wxml_deps: dict[str, tuple[list[str], list[str]]] = {}
        #: pages and components whose WXSS (or an @import of it) failed
        self.bad_styles: set[str] = set()

    def by_ext(self, ext: str) -> list[str]:
        return sorted(f for f in self.p.files if f.endswith(ext))

    def build(self) -> Bundle:
        files: dict[str, bytes] = {}
        files["render.js"] = self.render_js().encode("utf-8")
        files["logic.js"] = self.logic_js().encode("utf-8")
        files.update(self.styles())
        files.update(self.assets())
        broken = self.broken_units()
        diagnostics = {
            "errors": [e.as_dict() for e in self.sink.errors],
            "warnings": [w.as_dict() for w in self.sink.warnings],
        }
        files[DIAGNOSTICS_FILE] = json.dumps(diagnostics, ensure_ascii=False, indent=1).encode("utf-8")
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
            "broken": broken,
            "files": {k: hashlib.sha256(v).hexdigest() for k, v in sorted(files.items())},
        }
        files["bundle.json"] = json.dumps(config, sort_keys=True, ensure_ascii=False, indent=1).encode(
            "utf-8"
        )
        errors, warnings = sorted(self.sink.errors, key=_place), sorted(self.sink.warnings, key=_place)
        return Bundle(config, files, errors=errors, warnings=warnings)

    # -- one broken file fails alone -------------------------------------------------------------------
    def broken_units(self) -> dict[str, list[str]]:
        """Pages and components that cannot run: an error in one of their own files, in a WXML file
        their template imports or includes, or in a WXS module it uses."""
        by_file: dict[str, list[CompileError]] = {}
        for e in self.sink.errors:
            by_file.setdefault(e.file, []).append(e)

        def template_errors(key: str) -> list[CompileError]:
            found: list[CompileError] = []
            seen: set[str] = set()
            stack = [key]
            while stack:
                k = stack.pop()
                if k in seen:
                    continue
                seen.add(k)
                found += by_file.get(k + ".wxml", [])
                deps, wxs = self.wxml_deps.get(k, ([], []))
                for w in wxs:
                    found += by_file.get(w, [])
                stack.extend(deps)
            return found

        units = [(page, page) for page in self.p.pages] + [(c, c) for c in self.p.components]
        broken: dict[str, list[str]] = {}
        for unit, base in units:
            errs = [e for ext in (".json", ".js", ".wxss") for e in by_file.get(base + ext, [])]
            errs += template_errors(base)
            if not errs and base in self.bad_styles:
                errs = [CompileError(base + ".wxss", 1, 1, "a stylesheet it imports failed to compile", "wxss")]
            if errs:
                uniq = sorted({str(e): e for e in errs}.values(), key=_place)
                broken[unit] = [str(e) for e in uniq[:MAX_BROKEN_REASONS]]
        return broken

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
        wxs_parts: list[tuple[str, CompiledWxs]] = []
        exists = self.p.files.__contains__
        for path in self.by_ext(".wxs"):
            src = self.p.text(path) or ""
            out, errs = compile_wxs(path, src, lambda s, path=path: resolve_wxs(s, path, exists))
            self.sink.extend(errs)
            wxs_parts.append((path, out))
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
                wxs_parts.append((doc.path, out))
        # the engine parses every compiled chunk: one that does not parse (a construct the WXML or
        # WXS stages translate wrongly) fails its own file, never the whole of render.js
        chunks = [(f, w.js) for f, w in wxs_parts] + [(c.key + ".wxml", c.js) for c in compiled]
        errored = self.sink.files_with_errors()
        for file, js in chunks:
            if file not in errored and (err := check_syntax(file, js)) is not None:
                self.sink.add(file, 1, 1, f"minibox cannot translate this file yet ({err.message})", "internal")
        bad = self.sink.files_with_errors()
        for c in compiled:
            deps = [*c.imports, *(k for k, _pos in c.includes)]
            self.wxml_deps[c.key] = (deps, [r.path for r in c.wxs if r.source is None])
        head = (
            "(function () {\n"
            "var __mb = globalThis.__mb || (globalThis.__mb = {});\n"
            f"var MAX_TEMPLATE_DEPTH = {MAX_TEMPLATE_DEPTH}, MAX_FOR_NUMBER = {MAX_FOR_NUMBER};\n"
            "var WD = (function (__mb_wc) {\nvar WD = Object.create(null);\n"
        )
        # a file with errors is left out: its pages open as error pages, the rest of render.js runs;
        # so is a file no page or component can reach (every file was compiled and checked all the same)
        templates, modules = self.reachable(compiled, wxs_parts)
        if self.keep_unreachable:
            templates, modules = {c.key for c in compiled}, {f for f, _w in wxs_parts}
        body = [head, *(w.js for f, w in wxs_parts if f not in bad and f in modules),
                f"return WD;\n}})({WC_HELPER});\n"]
        body.append(_runtime_js())
        body.extend(c.js for c in compiled if c.key + ".wxml" not in bad and c.key in templates)
        body.append("})();\n")
        return "".join(body)

    def units(self) -> list[str]:
        """What the framework loads by path: the pages, the components and the default components
        of abstract components (componentGenerics)."""
        units = [*self.p.pages, *self.p.components]
        for info in self.p.components.values():
            generics = info.json.get("componentGenerics")
            if isinstance(generics, dict):
                units += [g["default"] for g in generics.values()
                          if isinstance(g, dict) and isinstance(g.get("default"), str)]
        return units

    def reachable(self, compiled: list[wxml.CompiledWxml],
                  wxs_parts: list[tuple[str, CompiledWxs]]) -> tuple[set[str], set[str]]:
        """The WXML files (keys) and the WXS sources (a .wxs file, or the .wxml file of an inline
        module) that a page or a component can reach: its own template, what it imports and
        includes, and the WXS modules they use and those require. Nothing else can ever be rendered:
        the framework renders pages and components only, and `<import>`, `<include>` and `<wxs src>`
        are static (WeChat's devtools leave such files out of an upload too, "ignoreUploadUnusedFiles")."""
        by_key = {c.key: c for c in compiled}
        templates: set[str] = set()
        stack = [k for k in self.units() if k in by_key]
        while stack:
            key = stack.pop()
            if key in templates:
                continue
            templates.add(key)
            c = by_key[key]
            stack.extend(k for k in (*c.imports, *(k for k, _pos in c.includes)) if k in by_key)
        requires: dict[str, set[str]] = {}
        for source, out in wxs_parts:
            requires.setdefault(source, set()).update(out.requires.values())
        modules: set[str] = set()
        stack = [key + ".wxml" for key in templates]
        stack += [r.path for key in templates for r in by_key[key].wxs if r.source is None]
        while stack:
            source = stack.pop()
            if source in modules:
                continue
            modules.add(source)
            stack.extend(requires.get(source, ()))
        return templates, modules

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
                    self.sink.warn(  # WeChat stops the loop at run time
                        key + ".wxml", line, col, f"<include> cycle: {cycle}", "wxml-include-cycle"
                    )
                elif state.get(target) is None:
                    visit(target, [*stack, target])
            state[key] = 2

        for key in graph:
            if key not in state:
                visit(key, [key])

    # -- logic.js -------------------------------------------------------------------------------------
    def logic_js(self) -> str:
        # each module: eval warnings, ES modules -> CommonJS, the engine's syntax check (a module that
        # cannot be parsed throws when required, alone), line numbers kept (logic.py)
        # only the modules app.js, the pages and the components can load, when that is known
        roots = None if self.keep_unreachable else ["app.js", *(f"{k}.js" for k in self.units())]
        return build_logic(self.p.files, self.p.text, lambda e: self.sink.extend([e]), self.progress, roots)

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
                before = self.sink.error_reports
                css = comp.compile(path, component)
                if self.sink.error_reports > before:
                    self.bad_styles.add(base)
                    continue
                out[f"styles/{base}.css"] = css.encode("utf-8")
        return out

    # -- assets ---------------------------------------------------------------------------------------
    def assets(self) -> dict[str, bytes]:
        """Every other file of the package, byte for byte, but for what WeChat never uploads: the
        sources and configuration it compiles, and files of development only (NOT_UPLOADED)."""
        configs = (
            {"app.json"} | {p + ".json" for p in self.p.pages} | {c + ".json" for c in self.p.components}
        )
        files = self.p.files
        out: dict[str, bytes] = {}
        for path, full in sorted(files.items()):
            if path.endswith(SOURCE_EXTS) or path in configs or path.lower().endswith(NOT_UPLOADED):
                continue
            data = full.read_bytes()
            base = path[: -len(".json")] if path.endswith(".json") else None
            if base is not None and base + ".wxml" in files and base + ".js" in files and _is_component_json(data):
                continue  # the configuration of a component no page uses (npm libraries ship many)
            out["assets/" + path] = data
        return out


def _is_component_json(data: bytes) -> bool:
    try:
        doc = json.loads(data)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("component") is True


def is_fatal(error: CompileError) -> bool:
    """Whether an error fails the whole app rather than the pages and components that use its file."""
    if error.is_warning:
        return False
    if error.code in FATAL_CODES:
        return True
    return error.file in APP_FILES and error.code not in PAGE_CODES


def compile_to_memory(src_dir: Path, progress: Progress | None = None) -> Bundle:
    """Compile a project without writing anything.

    A file that cannot be compiled fails alone: the bundle names the pages and components it breaks
    (`Bundle.broken`, which open as error pages) and carries every error and warning. Only errors in
    the app's own files (app.json, app.js, app.wxss) or in the package itself raise CompileErrors."""
    sink = ErrorSink()
    project = load_project(Path(src_dir), sink)
    builder = BundleBuilder(project, sink, progress)
    bundle = builder.build()
    if "app" in builder.bad_styles or any(is_fatal(e) for e in sink.errors):
        raise CompileErrors(sink.errors, sink.warnings)
    return bundle


def compile_project(src_dir: Path, out_dir: Path, progress: Progress | None = None) -> Bundle:
    """Compile a project into the bundle directory `out_dir` (docs/internals.md section 1)."""
    bundle = compile_to_memory(src_dir, progress)
    bundle.write(Path(out_dir))
    return bundle
