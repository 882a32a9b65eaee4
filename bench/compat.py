"""The open compatibility suite (issue 16): published mini-program projects and component libraries
from the npm registry, run unmodified in minibox, beside WeChat's own simulator.

    .venv/bin/python bench/compat.py                  # every package of the suite
    .venv/bin/python bench/compat.py vant weui        # some of them (names of PACKAGES)
    .venv/bin/python bench/compat.py --no-peer        # minibox only (no Node needed)
    .venv/bin/python bench/compat.py --json out.json  # also write every result as JSON

Each package is pinned (exact version and the registry's sha512 integrity) and fetched at run time
with `npm pack` into a cache outside the repository (MINIBOX_NPM_CACHE, default ~/.cache/minibox-npm);
no third-party code is vendored. The tarball's digest is checked against the pin before it is used.

What is measured:
- a **project** (a complete mini-program with app.json and pages): compiled (yes/no), then every page
  of app.json (and subpackages) opened with `minibox.testing` (launch, then reLaunch to each page),
  counted as opened when no uncaught error is reported while it opens and settles.
- a **component library**: a host project is generated with the library's miniprogram build copied
  into `miniprogram_npm/<package>` (what WeChat's "build npm" does) and one page per component, each
  mounting that one component with default props. A component renders when its page opens without
  an uncaught error. Two figures: *installed* (the whole build in the host project, as a developer
  has it) and *alone* (only when the installed project does not compile at all: each component in a
  host project holding only the files it reaches: json/js/wxml/wxss, usingComponents,
  require/import, <import>/<include>/<wxs src>, @import). "compiled" says how many pages and
  components the compiler marked broken (bundle.json "broken": they open as error pages).
- **peer**: WeChat's own simulator, `miniprogram-simulate` (j-component with WeChat's exparser and
  wcc, in Node with jsdom), loads and attaches the same components in the same run
  (bench/compat_simulate.js: ES modules compiled to CommonJS with babel as WeChat's devtools do,
  getApp stubbed as a library's jest setup does). Not counted for projects (it mounts components).

Every failure is listed with its first error (file:line and message), grouped by cause.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

CACHE = Path(os.environ.get("MINIBOX_NPM_CACHE", Path.home() / ".cache" / "minibox-npm")) / "compat"
SIMULATOR = Path(__file__).resolve().parent / "compat_simulate.js"
SETTLE_MS = 1000  # virtual time each page is given to settle (transitions, nextTick, timers)
NPM_TIMEOUT = 300
PEER_TIMEOUT = 900

# The peer: WeChat's simulator and what it needs, pinned. miniprogram-simulate and j-component ask
# for miniprogram-compiler@latest and miniprogram-exparser@latest; overrides pin them.
PEER_PACKAGES = {"miniprogram-simulate": "1.6.2", "j-component": "1.4.10", "miniprogram-compiler": "0.2.3",
                 "jsdom": "24.1.3", "miniprogram-exparser": "2.29.1", "@babel/core": "7.26.0", "@babel/plugin-transform-modules-commonjs": "7.25.9"}


@dataclass(frozen=True)
class Package:
    """One entry of the suite: an npm package, pinned, and where in it the mini-program code is."""

    name: str  # short name used on the command line and in the table
    npm: str
    version: str
    integrity: str  # the registry's dist.integrity (sha512, base64)
    license: str
    kind: str  # "library" or "project"
    root: str  # library: the miniprogram build folder; project: the folder holding app.json
    #: npm packages the library imports without declaring them (npm, version, integrity): installed
    #: beside it, as its users do, and put in miniprogram_npm as WeChat's "build npm" does
    extras: tuple[tuple[str, str, str], ...] = ()


PACKAGES: list[Package] = [
    Package("vant", "@vant/weapp", "1.11.7",
            "sha512-Rwn9BBnb4kHSV4XmvBicwtd42J+amEUfnFDcXJsGNPNX4a9c/DoT6YLsm4X1wB2+sQbdiQsbFBLAvGRBxCkD8g==",
            "MIT", "library", "lib"),
    Package("tdesign", "tdesign-miniprogram", "1.16.0",
            "sha512-HbK0PWVqXoiynkXOGrda+B8ChPwCcx1IazExlBJzxDhNjkQ8qE4/v0k5wn07gLxW042mSsVdwoX/aUTB0yH4jw==",
            "MIT", "library", "miniprogram_dist", extras=(
                ("tslib", "2.8.1", "sha512-oJFu94HQb+KVduSUQL7wnpmqnfmLsOA/nAh6b6EH0wCEoK0/mPeXU6c3wKDV83MkOuHPRHtSXKKU99IBazS/2w=="),
                ("dayjs", "1.11.13", "sha512-oaMBel6gjolK862uaPQOVTA7q3TZhuSvuMQAAglQDOWYO9A91IrAOUJEyKVlqJlHE0vq5p5UXxzdPfMH/x6xNg=="))),
    Package("weui", "weui-miniprogram", "1.5.6",
            "sha512-bGRHUdrQkFf6FzNT5UTapAMRdZQF0UP2uKu9ZR4MkPNwO3cWzlrkW8vBLxdS6k02O3VeNFATj/AsBCjHAsMBzA==",
            "MIT", "library", "miniprogram_dist"),
    Package("lin-ui", "lin-ui", "0.9.13",
            "sha512-RFRq1D+jCkhFzVCe/Y4C/NnWEK21ZiY961/HJR3mHmHmdq5IkrNBt/39WsUuWcDPty48WaY/3IipOPBBD+7ttw==",
            "MIT", "library", "dist"),
    Package("iview", "iview-weapp", "2.0.0",
            "sha512-4MJSyYBit1kHLqsTuvxGfc5KEUXKjyvAjKkGYUncuOEqzWiiFMdB6b0aOVlIKwVNsfVVyI6HFnUm0ynCKmnyxQ==",
            "MIT", "library", "dist"),
    Package("wux", "wux-weapp", "3.11.3",
            "sha512-HmxzvKTNuwaMGw9hii2sY/a1Dk/V6uClAD7Ew6/ZInvAeEXWdj0f+OgzeBRR/Hbpx4ebjIAtn17Ry9WnYsYRZA==",
            "MIT", "library", "packages/lib"),
    Package("recycle-view", "miniprogram-recycle-view", "0.1.5",
            "sha512-Pfm/u+jfg+b5zDhjXqm7QbR9IuViqX8JyzcHDgr6Zw9wSK0wmbXNzscA1WoSnGP5Z2nG2TIqtiNXvEbvsyrxXA==",
            "MIT", "library", "miniprogram_dist"),
    # complete mini-programs published on npm: WeUI's demo app and wux-weapp's example app
    Package("weui-demo", "weui-wxss", "2.6.26",
            "sha512-yRFEcauhhPfUUpTd1PXa3szupDUpG16+kV6vkygR3NazFg2ID+eRDLmK8fJTSKnx/VjZLP649Ake3X2nx5A4Qg==",
            "MIT", "project", "dist"),
    Package("wux-example", "wux-weapp", "3.11.3",
            "sha512-HmxzvKTNuwaMGw9hii2sY/a1Dk/V6uClAD7Ew6/ZInvAeEXWdj0f+OgzeBRR/Hbpx4ebjIAtn17Ry9WnYsYRZA==",
            "MIT", "project", "example"),
]
BY_NAME = {p.name: p for p in PACKAGES}


class FetchError(RuntimeError):
    """A pinned package could not be fetched or did not match its pin."""


# ---------------------------------------------------------------------------------------------------
# fetching


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise FetchError("npm is not on PATH")
    return npm


def sri_sha512(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def fetch(pkg: Package, cache: Path = CACHE) -> Path:
    """The unpacked package (its `package/` folder), fetched once with `npm pack` and verified."""
    return fetch_npm(pkg.npm, pkg.version, pkg.integrity, cache)


def fetch_npm(npm: str, version: str, integrity: str, cache: Path = CACHE) -> Path:
    dest = cache / "packages" / f"{npm.replace('/', '+')}-{version}"
    marker = dest / ".verified"
    if marker.exists() and marker.read_text() == integrity:
        return dest / "package"
    tarballs = cache / "tarballs"
    tarballs.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run([_npm(), "pack", f"{npm}@{version}", "--pack-destination", str(tarballs),
                               "--json", "--loglevel=error"], capture_output=True, text=True, timeout=NPM_TIMEOUT,
                              check=False)
    except subprocess.TimeoutExpired as exc:
        raise FetchError(f"npm pack {npm}@{version} timed out") from exc
    if proc.returncode != 0:
        raise FetchError(f"npm pack {npm}@{version} failed: {proc.stderr.strip()[-1500:]}")
    try:
        filename = json.loads(proc.stdout)[0]["filename"]
    except (ValueError, LookupError) as exc:
        raise FetchError(f"npm pack {npm}@{version}: unexpected output {proc.stdout[:300]!r}") from exc
    tgz = tarballs / Path(filename).name
    data = tgz.read_bytes()
    if sri_sha512(data) != integrity:
        raise FetchError(f"{npm}@{version}: tarball digest {sri_sha512(data)} is not the pinned {integrity}")
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with tarfile.open(tgz) as tar:
        tar.extractall(dest, filter="data")
    marker.write_text(integrity)
    return dest / "package"


def install_extras(pkg: Package, miniprogram_npm: Path) -> None:
    """The undeclared dependencies of `pkg` in miniprogram_npm, as WeChat's "build npm" lays them out:
    a package's "miniprogram" folder, else its main file as index.js."""
    for npm, version, integrity in pkg.extras:
        src = fetch_npm(npm, version, integrity)
        meta = json.loads((src / "package.json").read_text("utf-8"))
        dest = miniprogram_npm / npm
        if meta.get("miniprogram") and (src / meta["miniprogram"]).is_dir():
            shutil.copytree(src / meta["miniprogram"], dest, dirs_exist_ok=True)
        else:
            main = src / (meta.get("main") or "index.js")
            if main.suffix != ".js":
                main = main.with_name(main.name + ".js")
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(main, dest / "index.js")


def extras_node_path(pkg: Package, work: Path) -> Path | None:
    """A folder holding the undeclared dependencies as Node packages, for the peer's NODE_PATH."""
    if not pkg.extras:
        return None
    folder = work / pkg.name / "peer_node_path"
    for npm, version, integrity in pkg.extras:
        link = folder / npm
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(fetch_npm(npm, version, integrity), target_is_directory=True)
    return folder


def peer_modules(cache: Path = CACHE) -> Path:
    """node_modules holding WeChat's simulator (miniprogram-simulate) and jsdom, pinned."""
    prefix = cache / "peer"
    marker = prefix / ".installed.json"
    if marker.exists() and json.loads(marker.read_text()) == PEER_PACKAGES:
        return prefix / "node_modules"
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "package.json").write_text(json.dumps({
        "name": "minibox-compat-peer", "private": True, "dependencies": PEER_PACKAGES,
        "overrides": {name: PEER_PACKAGES[name] for name in ("miniprogram-compiler", "j-component",
                                                             "miniprogram-exparser")}}, indent=1))
    proc = subprocess.run([_npm(), "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--ignore-scripts",
                           "--loglevel=error"], capture_output=True, text=True, timeout=NPM_TIMEOUT, check=False)
    if proc.returncode != 0:
        raise FetchError(f"npm install (peer) failed: {proc.stderr.strip()[-1500:]}")
    marker.write_text(json.dumps(PEER_PACKAGES))
    return prefix / "node_modules"


# ---------------------------------------------------------------------------------------------------
# libraries: components and host projects


def components(build: Path) -> list[str]:
    """Every component of a miniprogram build: `x/y` for x/y.json with "component": true and x/y.js."""
    found = []
    for j in sorted(build.rglob("*.json")):
        if "node_modules" in j.parts:
            continue
        try:
            cfg = json.loads(j.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(cfg, dict) and cfg.get("component") is True and j.with_suffix(".js").exists():
            found.append(j.relative_to(build).with_suffix("").as_posix())
    return found


def page_name(component: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", component)


_REQ = re.compile(r"""(?:\brequire\s*\(\s*|\bimport\s*(?:[\w*{}\s,$]+\s*from\s*)?|\bexport\s*[\w*{}\s,$]+\s*from\s*)
                      (['"])([^'"\n]+)\1""", re.X)
_WXML_SRC = re.compile(r"""<(?:import|include|wxs)\b[^>]*?\bsrc\s*=\s*(['"])([^'"]+)\1""")
_CSS_IMPORT = re.compile(r"""@import\s+(?:url\()?\s*(['"])([^'"]+)\1""")


def closure(build: Path, component: str) -> set[Path]:
    """The files of `build` that `component` reaches (a static over-approximation of what it loads)."""
    seen: set[Path] = set()
    todo: list[Path] = []

    def add(p: Path) -> None:
        p = p.resolve()
        if p not in seen and p.is_file() and p.is_relative_to(build.resolve()):
            seen.add(p)
            todo.append(p)

    def add_module(base: Path, spec: str, exts: tuple[str, ...]) -> None:
        if spec.startswith("/"):
            target = build / spec.lstrip("/")
        elif spec.startswith("."):
            target = base.parent / spec
        else:
            target = base.parent / spec  # WeChat resolves a bare path relative to the file first
        for cand in (target, *(target.with_name(target.name + e) for e in exts),
                     *(target / ("index" + e) for e in exts)):
            if cand.is_file():
                add(cand)
                return

    def add_component(base: Path, spec: str) -> None:
        if spec.startswith("plugin://"):
            return
        target = (build / spec.lstrip("/")) if spec.startswith("/") else (base.parent / spec)
        if not target.with_suffix(".json").exists() and (target / "index.json").exists():
            target = target / "index"
        for ext in (".json", ".js", ".wxml", ".wxss"):
            add(target.with_name(target.name + ext))

    add_component(build / "_", component)
    while todo:
        f = todo.pop()
        text = f.read_text(encoding="utf-8", errors="replace")
        if f.suffix == ".json":
            try:
                cfg = json.loads(text)
            except ValueError:
                continue
            if isinstance(cfg, dict):
                for spec in (cfg.get("usingComponents") or {}).values():
                    if isinstance(spec, str):
                        add_component(f, spec)
                for spec in (cfg.get("componentGenerics") or {}).values():
                    if isinstance(spec, dict) and isinstance(spec.get("default"), str):
                        add_component(f, spec["default"])
        elif f.suffix in (".js", ".wxs"):
            for m in _REQ.finditer(text):
                add_module(f, m.group(2), (".js", ".wxs", ".json"))
        elif f.suffix == ".wxml":
            for m in _WXML_SRC.finditer(text):
                add_module(f, m.group(2), (".wxml", ".wxs"))
        elif f.suffix == ".wxss":
            for m in _CSS_IMPORT.finditer(text):
                add_module(f, m.group(2), (".wxss",))
    return seen


def host_project(dest: Path, pkg: Package, build: Path, comps: list[str], only: set[Path] | None = None) -> Path:
    """A project with `build` in miniprogram_npm/<npm name> (all of it, or the files in `only`) and one
    page per component, mounting it alone with default props."""
    if dest.exists():
        shutil.rmtree(dest)
    lib = dest / "miniprogram_npm" / pkg.npm
    if only is None:
        shutil.copytree(build, lib)
    else:
        base = build.resolve()
        for f in only:
            target = lib / f.relative_to(base)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, target)
    install_extras(pkg, dest / "miniprogram_npm")
    pages = []
    for comp in comps:
        name = page_name(comp)
        d = dest / "pages" / name
        d.mkdir(parents=True)
        (d / "index.json").write_text(json.dumps({"usingComponents": {"c-under-test": f"{pkg.npm}/{comp}"}}))
        (d / "index.wxml").write_text("<c-under-test />\n")
        (d / "index.js").write_text("Page({})\n")
        pages.append(f"pages/{name}/index")
    (dest / "app.json").write_text(json.dumps({"pages": pages}, indent=1))
    (dest / "app.js").write_text("App({})\n")
    return dest


# ---------------------------------------------------------------------------------------------------
# running in minibox


@dataclass
class Failure:
    item: str  # component or page
    stage: str  # "compile", "launch", "open", "crash"
    where: str  # file:line (or file:line:col)
    message: str
    code: str = ""

    @property
    def cause(self) -> str:
        return classify(self)


@dataclass
class Result:
    pkg: Package
    total: int = 0
    compiled: bool = False
    ok: list[str] = field(default_factory=list)  # pages opened / components rendered (installed)
    alone_ok: list[str] | None = None  # components rendered alone (libraries)
    peer_ok: list[str] | None = None
    failures: list[Failure] = field(default_factory=list)
    alone_failures: list[Failure] = field(default_factory=list)
    peer_failures: list[Failure] = field(default_factory=list)
    compile_errors: list[dict[str, Any]] = field(default_factory=list)
    broken: int = 0  # pages and components the compiler marked broken (they open as error pages)
    seconds: float = 0.0


_FRAME = re.compile(r"\(?((?:[\w@.$-]+/)*[\w@.$-]+\.(?:js|wxs|wxml)):(\d+)(?::(\d+))?\)?")
_ENGINE_FRAME = re.compile(r"at (\S+) \(<input>:(\d+):(\d+)\)")
_DEFINE = re.compile(r'^__mbDefine\(("[^"]*")')
_RENDER_UNIT = re.compile(r'^[WF]D\[("[^"]*")\] = ')
_SYNTAX_AT = re.compile(r"^\s*at (?:<anonymous> \()?<input>:(\d+):(\d+)\)?\s*$")


class Locator:
    """Maps the engine's frames (`<input>:line:col`: quickjs names every script <input>) back to a
    source file of the project: a frame is charged to logic.js only when no framework file or
    render.js could hold it (line long enough, and holding the function's name), then to the module
    whose `__mbDefine` wraps that line."""

    def __init__(self, bundle: Path | None) -> None:
        from minibox.runtime.bundle import framework_sources

        self.sources: list[tuple[str, list[str]]] = [(n, t.split("\n")) for n, t in framework_sources()]
        self.modules: list[tuple[int, str]] = []  # (line of the __mbDefine, module path)
        self.render_units: list[tuple[int, str]] = []  # (line of a WD[...]/FD[...] in render.js, unit)
        self.logic: list[str] = []
        if bundle is not None and (bundle / "logic.js").exists():
            self.logic = (bundle / "logic.js").read_text("utf-8").split("\n")
            self.sources.append(("render.js", (bundle / "render.js").read_text("utf-8").split("\n")))
            for i, line in enumerate(self.logic, 1):
                m = _DEFINE.match(line)
                if m:
                    self.modules.append((i, json.loads(m.group(1))))
            self.render = self.sources[-1][1]
            self.render_units = [(i, json.loads(m.group(1))) for i, line in enumerate(self.render, 1)
                                 if (m := _RENDER_UNIT.match(line))]

    @staticmethod
    def _holds(lines: list[str], line: int, col: int, fn: str) -> bool:
        if line > len(lines) or len(lines[line - 1]) < col - 1:
            return False
        return fn in ("<anonymous>", "<eval>") or fn.split(".")[-1] in lines[line - 1]

    def locate(self, stack: str, message: str = "") -> str:
        for m in _FRAME.finditer(stack or ""):
            if not m.group(1).startswith(("framework/", "<")):
                return f"{m.group(1)}:{m.group(2)}"
        m = _SYNTAX_AT.match((stack or "").strip()) if "SyntaxError" in message else None
        if m and getattr(self, "render_units", None):  # a script the engine could not parse: render.js
            line = int(m.group(1))
            start, unit = max(((s, u) for s, u in self.render_units if s <= line), default=(0, "render.js"))
            return f"{unit.split('#')[0]} (render.js:{line}, WXS/WXML module starting {line - start} lines above)"
        for m in _ENGINE_FRAME.finditer(stack or ""):
            fn, line, col = m.group(1), int(m.group(2)), int(m.group(3))
            if fn.startswith("mb") or not self._holds(self.logic, line, col, fn):
                continue
            if any(self._holds(lines, line, col, fn) for _name, lines in self.sources):
                continue
            start, path = max(((s, p) for s, p in self.modules if s <= line), default=(0, "logic.js"))
            return f"{path}:{line - start}"
        return "?"


def first_frame(stack: str, locator: Locator | None = None, message: str = "") -> str:
    return (locator or Locator(None)).locate(stack, message)


def _compile(project: Path) -> list[dict[str, Any]]:
    """Compile (cached by content); [] on success, else every compile error as a dict."""
    from minibox.compiler import CompileErrors
    from minibox.testing import compile_cached

    try:
        compile_cached(project)
    except CompileErrors as exc:
        return [e.as_dict() for e in exc.errors]
    return []




_BROKEN = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?:warning: )?(?P<msg>.*?)(?: \[(?P<code>[\w-]+)\])?$", re.S)


def broken_reason(bundle: Path, page: str) -> Failure | None:
    """The compile error that broke `page` or a component it reaches (bundle.json "broken": the
    compiler leaves such files out and the page opens as an error page), else None."""
    cfg = json.loads((bundle / "bundle.json").read_text("utf-8"))
    broken = cfg.get("broken") or {}
    if not broken:
        return None
    seen: set[str] = set()
    todo = [page]
    while todo:
        unit = todo.pop(0)
        if unit in seen:
            continue
        seen.add(unit)
        if broken.get(unit):
            m = _BROKEN.match(broken[unit][0])
            if m:
                return Failure(page, "compile", f"{m['file']}:{m['line']}:{m['col']}", m["msg"], m["code"] or "")
            return Failure(page, "compile", "?", broken[unit][0])
        entry = cfg.get("pages", {}).get(unit) or cfg.get("components", {}).get(unit) or {}
        using = entry.get("usingComponents") or {}
        todo += [v for v in using.values() if isinstance(v, str)]
    return None


def _script_error(exc: Exception) -> tuple[str, str]:
    """(message, stack) of an exception a command raised (a ScriptError carries the JS stack)."""
    text = str(exc)
    message = getattr(exc, "js_message", None) or text.split("\n")[0]
    stack = text[len(message):] if text.startswith(message) else text
    return message, stack


def open_pages(project: Path, pages: list[str], *, entry: str | None = None) -> tuple[list[str], list[Failure]]:
    """Launch the project and reLaunch to each page; (pages opened cleanly, failures)."""
    from minibox.testing import compile_cached, launch

    ok: list[str] = []
    failures: list[Failure] = []
    mp = None
    bundle = compile_cached(project)
    loc = Locator(bundle)

    def fail(page: str, stage: str, message: str, stack: str) -> None:
        # a page the compiler marked broken: its first compile error is the cause
        failures.append(broken_reason(bundle, page) or Failure(page, stage, first_frame(stack, loc, message), message))

    try:
        for page in pages:
            try:
                if mp is None:
                    mp = launch(project, path=entry)
                    if mp.errors:  # app.js or the first page failed (noted once per message)
                        e = mp.errors[0]
                        f = Failure("(launch)", "launch", first_frame(e.get("stack", ""), loc), e.get("message", ""))
                        if not any(x.item == f.item and x.message == f.message for x in failures):
                            failures.append(f)
                n0 = len(mp.errors)
                res = mp.relaunch("/" + page)
                mp.advance(SETTLE_MS)
                errs = mp.errors[n0:]
                if isinstance(res, dict) and ":ok" not in str(res.get("errMsg", ":ok")) and not errs:
                    errs = [{"message": res["errMsg"], "stack": ""}]
                if errs:
                    fail(page, "open", errs[0].get("message", ""), errs[0].get("stack", ""))
                else:
                    ok.append(page)
            except Exception as exc:  # a command threw (script error), or the worker died or timed out
                message, stack = _script_error(exc)
                crashed = mp is None or getattr(mp.instance, "crashed", None) is not None
                fail(page, "crash" if crashed else "open", f"{type(exc).__name__}: {message}"[:400], stack)
                if mp is not None:  # a fresh instance: the failed page must not spoil the next one
                    with contextlib.suppress(Exception):
                        mp.close()
                    mp = None
    finally:
        if mp is not None:
            mp.close()
    return ok, failures


def broken_units(project: Path) -> int:
    """How many pages and components of a compiled project the compiler marked broken."""
    from minibox.testing import compile_cached

    cfg = json.loads((compile_cached(project) / "bundle.json").read_text("utf-8"))
    return len(cfg.get("broken") or {})


def _compile_failures(errors: list[dict[str, Any]], item: str | None = None) -> list[Failure]:
    return [Failure(item or e["file"], "compile", f"{e['file']}:{e['line']}:{e['column']}", e["message"], e["code"])
            for e in errors]


def run_library(pkg: Package, work: Path, limit: list[str] | None = None, peer: Path | None = None) -> Result:
    t0 = time.monotonic()
    build = fetch(pkg) / pkg.root
    comps = components(build)
    if limit:
        comps = [c for c in comps if c in limit or c.split("/")[0] in limit]
    res = Result(pkg, total=len(comps))
    project = host_project(work / pkg.name / "installed", pkg, build, comps)
    pages = [f"pages/{page_name(c)}/index" for c in comps]
    by_page = dict(zip(pages, comps, strict=True))
    res.compile_errors = _compile(project)
    res.compiled = not res.compile_errors
    if res.compiled:
        res.broken = broken_units(project)
        ok, fails = open_pages(project, pages)
        res.ok = [by_page[p] for p in ok]
        res.failures = [Failure(by_page.get(f.item, f.item), f.stage, f.where, f.message) for f in fails]
    else:
        res.failures = _compile_failures(res.compile_errors)
    # alone: each component with only the files it reaches
    if res.compiled:
        res.alone_ok, res.alone_failures = list(res.ok), list(res.failures)
    else:
        good: list[str] = []
        files: set[Path] = set()
        res.alone_failures = []
        for c in comps:
            reach = closure(build, c)
            errs = _compile(host_project(work / pkg.name / "alone-one", pkg, build, [c], reach))
            if errs:
                first = errs[0]
                res.alone_failures.append(Failure(c, "compile", f"{first['file']}:{first['line']}:{first['column']}",
                                                  first["message"], first["code"]))
            else:
                good.append(c)
                files |= reach
        res.alone_ok = []
        if good:
            union = host_project(work / pkg.name / "alone", pkg, build, good, files)
            errs = _compile(union)
            if errs:  # files that compile alone but not together: say so, count none
                res.alone_failures += _compile_failures(errs, "(union of components that compile alone)")
            else:
                gpages = [f"pages/{page_name(c)}/index" for c in good]
                ok, fails = open_pages(union, gpages)
                gby = dict(zip(gpages, good, strict=True))
                res.alone_ok = [gby[p] for p in ok]
                res.alone_failures += [Failure(gby.get(f.item, f.item), f.stage, f.where, f.message) for f in fails]
    if peer is not None:
        res.peer_ok, res.peer_failures = run_peer(peer, build, comps, extras_node_path(pkg, work))
    res.seconds = time.monotonic() - t0
    return res


def project_pages(root: Path) -> list[str]:
    app = json.loads((root / "app.json").read_text(encoding="utf-8"))
    pages = list(app.get("pages", []))
    for sub in app.get("subpackages", app.get("subPackages", [])) or []:
        pages += [f"{sub['root'].rstrip('/')}/{p}" for p in sub.get("pages", [])]
    return pages


def run_project(pkg: Package, work: Path, limit: list[str] | None = None) -> Result:
    t0 = time.monotonic()
    root = fetch(pkg) / pkg.root
    project = work / pkg.name / "project"
    if project.exists():
        shutil.rmtree(project)
    shutil.copytree(root, project)
    pages = project_pages(project)
    if limit:
        pages = [p for p in pages if any(x in p for x in limit)]
    res = Result(pkg, total=len(pages))
    res.compile_errors = _compile(project)
    res.compiled = not res.compile_errors
    if res.compiled:
        res.broken = broken_units(project)
        res.ok, res.failures = open_pages(project, pages)
    else:
        res.failures = _compile_failures(res.compile_errors)
    res.seconds = time.monotonic() - t0
    return res


# ---------------------------------------------------------------------------------------------------
# the peer: WeChat's simulator


def run_peer(modules: Path, build: Path, comps: list[str], node_path: Path | None = None
             ) -> tuple[list[str], list[Failure]]:
    with tempfile.TemporaryDirectory(prefix="minibox-compat-peer-") as tmp:
        spec = Path(tmp) / "spec.json"
        out = Path(tmp) / "out.json"
        spec.write_text(json.dumps({"modules": str(modules), "root": str(build), "components": comps,
                                    "out": str(out)}))
        env = {**os.environ, "NODE_PATH": str(node_path)} if node_path else None
        proc = subprocess.run(["node", str(SIMULATOR), str(spec)], capture_output=True, text=True,
                              timeout=PEER_TIMEOUT, check=False, env=env)
        if not out.exists():
            return [], [Failure("*", "peer", "?", f"simulator failed: {proc.stderr.strip()[-500:]}")]
        results = json.loads(out.read_text())
    ok = [c for c in comps if results.get(c, {}).get("ok")]
    for r in results.values():  # frames relative to the library's build, as minibox's are
        if isinstance(r, dict) and r.get("stack"):
            r["stack"] = r["stack"].replace(str(build) + "/", "").replace(str(modules) + "/", "node_modules/")
    fails = [Failure(c, "peer", first_frame(results.get(c, {}).get("stack", "")),
                     results.get(c, {}).get("error", "not run")) for c in comps if not results.get(c, {}).get("ok")]
    return ok, fails


# ---------------------------------------------------------------------------------------------------
# causes

# (cause, test) in order: the first that matches names the failure's cause. A first guess from the
# message and the place; the triage of a run reads the failures themselves.


def _file(f: Failure) -> str:
    return f.where.split(":")[0].split(" ")[0]


_CAUSES: list[tuple[str, Any]] = [
    ("compiler: JS (ES modules, syntax)", lambda f: f.stage == "compile" and _file(f).endswith(".js")),
    ("compiler: WXML strictness", lambda f: f.stage == "compile" and _file(f).endswith(".wxml")),
    ("compiler: WXSS", lambda f: f.stage == "compile" and _file(f).endswith(".wxss")),
    ("compiler: WXS", lambda f: f.stage == "compile" and _file(f).endswith(".wxs")),
    ("compiler: project/json", lambda f: f.stage == "compile"),
    ("compiler: WXS/WXML compiled to JS the engine refuses", lambda f: "SyntaxError" in f.message
     and "render.js" in f.where),
    ("JS modules: ES module syntax reached the engine", lambda f: "SyntaxError" in f.message
     and re.search(r"\b(import|export)\b|unexpected (token|identifier)", f.message, re.I) is not None),
    ("JS modules: module did not register", lambda f: "did not call Component() or Page()" in f.message),
    ("runtime: WeChat global missing", lambda f: re.search(r"\b(global|requirePlugin|__wxConfig) is not defined",
                                                            f.message) is not None),
    ("wx API missing", lambda f: re.search(r"wx\.\w+ is not a function|of undefined.*\bwx\b", f.message)
     is not None),
    ("runtime: not a function", lambda f: "not a function" in f.message),
    ("runtime: undefined/null access", lambda f: re.search(r"cannot read|undefined|null", f.message, re.I)
     is not None),
    ("runtime: not defined", lambda f: "is not defined" in f.message),
    ("view: patch out of sync", lambda f: "PatchError" in f.message),
    ("worker crash / timeout", lambda f: f.stage == "crash"),
]


def classify(f: Failure) -> str:
    for cause, test in _CAUSES:
        try:
            if test(f):
                return cause
        except Exception:
            continue
    return "other"


# ---------------------------------------------------------------------------------------------------
# report


def _frac(ok: list[str] | None, total: int) -> str:
    return "-" if ok is None else f"{len(ok)}/{total}"


def table(results: list[Result]) -> str:
    rows = [("package", "version", "kind", "compiled", "pages opened", "components (installed)",
             "components (alone)", "peer (miniprogram-simulate)", "s")]
    for r in results:
        lib = r.pkg.kind == "library"
        compiled = ("yes" + (f" ({r.broken} broken)" if r.broken else "")) if r.compiled else "no"
        rows.append((r.pkg.name, f"{r.pkg.npm}@{r.pkg.version}", r.pkg.kind, compiled,
                     "-" if lib else _frac(r.ok, r.total), _frac(r.ok, r.total) if lib else "-",
                     _frac(r.alone_ok, r.total) if lib else "-", _frac(r.peer_ok, r.total) if lib else "-",
                     f"{r.seconds:.0f}"))
    libs = [r for r in results if r.pkg.kind == "library"]
    if libs:
        total = sum(r.total for r in libs)
        rows.append(("TOTAL libraries", "", "", f"{sum(r.compiled for r in libs)}/{len(libs)}", "-",
                     f"{sum(len(r.ok) for r in libs)}/{total}",
                     f"{sum(len(r.alone_ok or []) for r in libs)}/{total}",
                     "-" if any(r.peer_ok is None for r in libs) else f"{sum(len(r.peer_ok or []) for r in libs)}/{total}",
                     f"{sum(r.seconds for r in libs):.0f}"))
    projects = [r for r in results if r.pkg.kind == "project"]
    if projects:
        rows.append(("TOTAL projects", "", "", f"{sum(r.compiled for r in projects)}/{len(projects)}",
                     f"{sum(len(r.ok) for r in projects)}/{sum(r.total for r in projects)}", "-", "-", "-",
                     f"{sum(r.seconds for r in projects):.0f}"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for k, row in enumerate(rows):
        lines.append(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if k == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def failures_report(results: list[Result], limit_per_cause: int = 12) -> str:
    out = []
    for r in results:
        for title, fails in (("minibox", r.failures), ("minibox, alone", r.alone_failures if not r.compiled else []),
                             ("peer", r.peer_failures)):
            if not fails:
                continue
            groups: dict[str, list[Failure]] = defaultdict(list)
            for f in fails:
                groups[f.cause].append(f)
            out.append(f"\n## {r.pkg.name} ({title}): {len(fails)} failure{'s' if len(fails) != 1 else ''}")
            for cause, fs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
                out.append(f"  [{cause}] {len(fs)}")
                for f in fs[:limit_per_cause]:
                    out.append(f"    {f.item}: {f.where}: {f.message[:200]}".replace("\n", " "))
                if len(fs) > limit_per_cause:
                    out.append(f"    ... and {len(fs) - limit_per_cause} more")
    return "\n".join(out)


def as_json(results: list[Result]) -> list[dict[str, Any]]:
    def fails(fs: list[Failure]) -> list[dict[str, str]]:
        return [{"item": f.item, "stage": f.stage, "where": f.where, "message": f.message, "code": f.code,
                 "cause": f.cause} for f in fs]

    return [{"name": r.pkg.name, "npm": r.pkg.npm, "version": r.pkg.version, "integrity": r.pkg.integrity,
             "kind": r.pkg.kind, "compiled": r.compiled, "broken": r.broken, "total": r.total, "ok": r.ok, "alone_ok": r.alone_ok,
             "peer_ok": r.peer_ok, "failures": fails(r.failures), "alone_failures": fails(r.alone_failures),
             "peer_failures": fails(r.peer_failures), "compile_errors": r.compile_errors,
             "seconds": round(r.seconds, 1)} for r in results]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("packages", nargs="*", help=f"names of packages to run (default: all of {', '.join(BY_NAME)})")
    ap.add_argument("--only", nargs="*", default=None, help="only these components/pages (substring for pages)")
    ap.add_argument("--no-peer", action="store_true", help="do not run WeChat's simulator beside minibox")
    ap.add_argument("--json", type=Path, help="write every result to this file")
    ap.add_argument("--work", type=Path, help="where host projects are generated (default: a temporary folder)")
    args = ap.parse_args(argv)
    unknown = [n for n in args.packages if n not in BY_NAME]
    if unknown:
        ap.error(f"unknown package(s) {unknown}; known: {', '.join(BY_NAME)}")
    chosen = [BY_NAME[n] for n in args.packages] if args.packages else PACKAGES
    work = args.work or Path(tempfile.mkdtemp(prefix="minibox-compat-"))
    peer = None if args.no_peer else peer_modules()
    results = []
    for pkg in chosen:
        print(f"... {pkg.name} ({pkg.npm}@{pkg.version}, {pkg.kind})", file=sys.stderr, flush=True)
        if pkg.kind == "library":
            results.append(run_library(pkg, work, args.only, peer))
        else:
            results.append(run_project(pkg, work, args.only))
    print(table(results))
    print(failures_report(results))
    if args.json:
        args.json.write_text(json.dumps(as_json(results), indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
