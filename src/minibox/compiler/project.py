"""The project stage: `project.config.json`, `app.json`, page and component `.json`, and the
resolution of `usingComponents` (relative, `/`-absolute, app-global, `miniprogram_npm` lookup)."""

from __future__ import annotations

import json
import os
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ErrorSink

#: Most files a package may hold.
MAX_FILES = 20_000
#: Largest single source file read, in bytes.
MAX_FILE_BYTES = 20_000_000
#: Directories never part of the package.
SKIPPED_DIRS = frozenset({"node_modules", ".git", ".svn", ".hg"})
#: Files at the package root that configure the tools, not the app.
TOOL_FILES = frozenset({"project.config.json", "project.private.config.json"})

WINDOW_DEFAULTS: dict[str, Any] = {
    "navigationBarBackgroundColor": "#000000",
    "navigationBarTextStyle": "white",
    "navigationBarTitleText": "",
    "navigationStyle": "default",
    "backgroundColor": "#ffffff",
    "backgroundTextStyle": "dark",
    "enablePullDownRefresh": False,
    "onReachBottomDistance": 50,
    "pageOrientation": "portrait",
}
NETWORK_TIMEOUT_DEFAULTS = {
    "request": 60000,
    "connectSocket": 60000,
    "uploadFile": 60000,
    "downloadFile": 60000,
}
#: requiredPrivateInfos WeChat accepts; the fuzzy and precise location families are exclusive.
PRIVATE_INFOS = frozenset(
    {
        "getFuzzyLocation",
        "getLocation",
        "onLocationChange",
        "startLocationUpdate",
        "startLocationUpdateBackground",
        "chooseAddress",
        "chooseLocation",
        "choosePoi",
    }
)
PRECISE_LOCATION = frozenset(
    {"getLocation", "onLocationChange", "startLocationUpdate", "startLocationUpdateBackground"}
)
TABBAR_MIN, TABBAR_MAX = 2, 5


@dataclass
class PageInfo:
    json: dict[str, Any]
    using: dict[str, str]
    subpackage: str | None


@dataclass
class ComponentInfo:
    json: dict[str, Any]
    using: dict[str, str]


@dataclass
class Project:
    """A loaded project: the package files (path -> absolute file) and its validated configuration."""

    src_dir: Path
    root: Path
    files: dict[str, Path]
    app: dict[str, Any] = field(default_factory=dict)
    entry_page: str = ""
    pages: dict[str, PageInfo] = field(default_factory=dict)
    components: dict[str, ComponentInfo] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    sink: ErrorSink | None = None

    def text(self, path: str) -> str | None:
        """UTF-8 text of a package file, or None if it does not exist."""
        if path in self.texts:
            return self.texts[path]
        p = self.files.get(path)
        if p is None:
            return None
        data = p.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            good = data[: exc.start].decode("utf-8", errors="replace")
            line = good.count("\n") + 1
            col = len(good) - (good.rfind("\n") + 1) + 1
            if self.sink is not None:
                self.sink.add(path, line, col, "source file is not valid UTF-8 text", "encoding")
            text = data.decode("utf-8", errors="replace")
        self.texts[path] = text
        return text


def locate(text: str, needle: str) -> tuple[int, int]:
    """(line, column) of the first `"needle"` in a JSON text, or (1, 1)."""
    idx = text.find(json.dumps(needle, ensure_ascii=False))
    if idx < 0:
        idx = text.find(needle)
    if idx < 0:
        return 1, 1
    return text.count("\n", 0, idx) + 1, idx - (text.rfind("\n", 0, idx) + 1) + 1


_JSON_WS = " \t\r\n"
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in _JSON_WS:
        i += 1
    return i


def _skip_value(text: str, i: int) -> int:
    """Offset just past the JSON value at `i` (the text is known to be valid JSON)."""
    i = _skip_ws(text, i)
    if i >= len(text):
        return i
    ch = text[i]
    if ch == '"':
        m = _JSON_STRING.match(text, i)
        return m.end() if m else len(text)
    if ch in "[{":
        depth = 0
        while i < len(text):
            ch = text[i]
            if ch == '"':
                m = _JSON_STRING.match(text, i)
                i = m.end() if m else len(text)
                continue
            if ch in "[{":
                depth += 1
            elif ch in "]}":
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        return i
    while i < len(text) and text[i] not in ",]}" + _JSON_WS:
        i += 1
    return i


def locate_path(text: str, path: list[str | int]) -> tuple[int, int]:
    """(line, column) of the value at `path` (object keys, list indexes) in a JSON text: the deepest
    part of the path that exists, so an error about `tabBar.list[1].text` points into item 1."""
    i = _skip_ws(text, 1 if text.startswith("\ufeff") else 0)
    found = i
    for step in path:
        if i >= len(text) or text[i] not in "[{":
            break
        opener = text[i]
        i = _skip_ws(text, i + 1)
        index, hit = 0, None
        while i < len(text) and text[i] not in "]}":
            if opener == "{":
                m = _JSON_STRING.match(text, i)
                if not m:
                    break
                try:
                    key = json.loads(m.group(0))
                except ValueError:
                    key = None
                i = _skip_ws(text, m.end())
                i = _skip_ws(text, i + 1)  # the colon
                if key == step:
                    hit = i
            elif index == step:
                hit = i
            if hit is not None:
                break
            i = _skip_ws(text, _skip_value(text, i))
            if i < len(text) and text[i] == ",":
                i = _skip_ws(text, i + 1)
            index += 1
        if hit is None:
            break
        i = found = hit
    return text.count("\n", 0, found) + 1, found - (text.rfind("\n", 0, found) + 1) + 1


class ProjectLoader:
    def __init__(self, src_dir: Path, sink: ErrorSink) -> None:
        self.src_dir = src_dir
        self.sink = sink

    # -- files ----------------------------------------------------------------------------------------
    def load(self) -> Project:
        root = self.src_dir
        cfg_path = self.src_dir / "project.config.json"
        if cfg_path.is_file():
            cfg = self.read_json("project.config.json", cfg_path.read_text("utf-8", errors="replace"))
            if isinstance(cfg, dict) and cfg.get("miniprogramRoot"):
                mp = cfg["miniprogramRoot"]
                if not isinstance(mp, str) or posixpath.normpath(mp).startswith(".."):
                    line, col = locate(cfg_path.read_text("utf-8", errors="replace"), "miniprogramRoot")
                    self.sink.add(
                        "project.config.json",
                        line,
                        col,
                        "miniprogramRoot: must be a path inside the project",
                        "config",
                    )
                else:
                    root = self.src_dir / mp
                    if not root.is_dir():
                        text = cfg_path.read_text("utf-8", errors="replace")
                        line, col = locate(text, "miniprogramRoot")
                        self.sink.add(
                            "project.config.json",
                            line,
                            col,
                            f"miniprogramRoot: directory not found: {mp}",
                            "config",
                        )
                        root = self.src_dir
        project = Project(self.src_dir, root, self.walk(root), sink=self.sink)
        self.project = project
        self.load_app()
        return project

    def walk(self, root: Path) -> dict[str, Path]:
        files: dict[str, Path] = {}
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            rel_dir = Path(dirpath).relative_to(root).as_posix()
            rel_dir = "" if rel_dir == "." else rel_dir
            keep = []
            for d in sorted(dirnames):
                full = Path(dirpath) / d
                if d.startswith(".") or d in SKIPPED_DIRS:
                    continue
                if full.is_symlink():
                    self.sink.add(
                        posixpath.join(rel_dir, d),
                        1,
                        1,
                        "symbolic links are not allowed in a package",
                        "package-file",
                    )
                    continue
                keep.append(d)
            dirnames[:] = keep
            for name in sorted(filenames):
                rel = posixpath.join(rel_dir, name)
                full = Path(dirpath) / name
                if name.startswith(".") or (not rel_dir and name in TOOL_FILES):
                    continue
                if full.is_symlink():
                    self.sink.add(rel, 1, 1, "symbolic links are not allowed in a package", "package-file")
                    continue
                if full.stat().st_size > MAX_FILE_BYTES:
                    self.sink.add(rel, 1, 1, f"file larger than {MAX_FILE_BYTES} bytes", "package-file")
                    continue
                files[rel] = full
                if len(files) > MAX_FILES:
                    self.sink.add(rel, 1, 1, f"package has more than {MAX_FILES} files", "package-file")
                    return files
        return files

    def read_json(self, path: str, text: str) -> Any:
        if text.startswith("\ufeff"):
            text = text[1:]
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            self.sink.add(path, exc.lineno, exc.colno, f"invalid JSON: {exc.msg}", "json")
            return None

    def err(self, path: str, needle: str, message: str, code: str = "config") -> None:
        text = self.project.text(path) or ""
        line, col = locate(text, needle) if needle else (1, 1)
        self.sink.add(path, line, col, message, code)

    def json_file(self, path: str) -> dict[str, Any] | None:
        text = self.project.text(path)
        if text is None:
            return None
        data = self.read_json(path, text)
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.sink.add(path, 1, 1, "must be a JSON object", "config")
            return {}
        return data

    def exists(self, path: str) -> bool:
        return path in self.project.files

    # -- app.json -------------------------------------------------------------------------------------
    def load_app(self) -> None:
        p = self.project
        n_errors = len(self.sink.errors)
        app = self.json_file("app.json")
        if app is None:
            self.sink.add("app.json", 1, 1, "app.json not found in the mini-program root", "config")
            return
        if len(self.sink.errors) > n_errors:  # unreadable app.json: nothing more to validate
            return
        app = dict(app)
        if "subPackages" in app:
            if "subpackages" in app:
                self.err(
                    "app.json", "subPackages", "subPackages: give either subpackages or subPackages, not both"
                )
            app["subpackages"] = app.pop("subPackages")
        pages_list = app.get("pages")
        if (
            not isinstance(pages_list, list)
            or not pages_list
            or not all(isinstance(x, str) for x in pages_list)
        ):
            self.err("app.json", "pages", "pages: must be a non-empty list of page paths")
            pages_list = []
        subs = app.get("subpackages", [])
        if not isinstance(subs, list):
            self.err("app.json", "subpackages", "subpackages: must be a list")
            subs = []
        window = app.get("window", {})
        if not isinstance(window, dict):
            self.err("app.json", "window", "window: must be an object")
            window = {}
        app["window"] = {**WINDOW_DEFAULTS, **window}
        nt = app.get("networkTimeout", {})
        if not isinstance(nt, dict) or not all(isinstance(v, int | float) and v > 0 for v in nt.values()):
            self.err(
                "app.json", "networkTimeout", "networkTimeout: must map API names to positive milliseconds"
            )
            nt = {}
        app["networkTimeout"] = {**NETWORK_TIMEOUT_DEFAULTS, **nt}
        for key in ("permission", "usingComponents"):
            v = app.get(key, {})
            if not isinstance(v, dict):
                self.err("app.json", key, f"{key}: must be an object")
                v = {}
            app[key] = v
        for scope_name, spec in app["permission"].items():
            if not scope_name.startswith("scope.") or not isinstance(spec, dict) or not isinstance(spec.get("desc"), str):
                self.err("app.json", scope_name, f"permission.{scope_name}: needs a scope.* name and a desc string")
        rpi = app.get("requiredPrivateInfos", [])
        if not isinstance(rpi, list) or not all(isinstance(x, str) for x in rpi):
            self.err("app.json", "requiredPrivateInfos", "requiredPrivateInfos: must be a list of API names")
            rpi = []
        for name in rpi:
            if name not in PRIVATE_INFOS:
                self.err("app.json", name, f"requiredPrivateInfos: unknown entry {name!r}")
        if "getFuzzyLocation" in rpi and PRECISE_LOCATION & set(rpi):
            self.err(
                "app.json",
                "getFuzzyLocation",
                "requiredPrivateInfos: getFuzzyLocation cannot be declared together with precise location APIs",
            )
        app["requiredPrivateInfos"] = rpi
        app.setdefault("tabBar", None)

        global_using = self.resolve_using("app.json", "app", app["usingComponents"], {})
        self.global_using = global_using
        all_pages: list[tuple[str, str | None, str]] = []
        seen: set[str] = set()
        for i, page in enumerate(pages_list):
            all_pages.append((page, None, f"pages[{i}]"))
        norm_subs = []
        for k, sub in enumerate(subs):
            if (
                not isinstance(sub, dict)
                or not isinstance(sub.get("root"), str)
                or not isinstance(sub.get("pages", []), list)
            ):
                self.err("app.json", "subpackages", f"subpackages[{k}]: needs a root string and a pages list")
                continue
            root = sub["root"].strip("/") + "/"
            norm_subs.append({**sub, "root": root})
            for j, page in enumerate(sub.get("pages", [])):
                if not isinstance(page, str):
                    self.err("app.json", root, f"subpackages[{k}].pages[{j}]: must be a string")
                    continue
                all_pages.append((root + page, root, f"subpackages[{k}].pages[{j}]"))
        app["subpackages"] = norm_subs
        for page, sub, where in all_pages:
            page = page.strip("/")
            if page in seen:
                self.err("app.json", page, f"{where}: page {page!r} is listed twice")
                continue
            seen.add(page)
            missing = [ext for ext in (".wxml", ".js") if not self.exists(page + ext)]
            if missing:
                self.err(
                    "app.json",
                    page.removeprefix(sub or ""),
                    f"{where}: page {page!r} not found (missing {', '.join(page + m for m in missing)})",
                    "missing-page",
                )
                continue
            pj = self.json_file(page + ".json") or {}
            own = pj.get("usingComponents", {})
            if not isinstance(own, dict):
                self.err(page + ".json", "usingComponents", "usingComponents: must be an object")
                own = {}
            using = self.resolve_using(page + ".json", page, own, global_using)
            p.pages[page] = PageInfo(pj, using, sub)
        entry = app.get("entryPagePath")
        if isinstance(entry, str) and entry.strip("/") in p.pages:
            p.entry_page = entry.strip("/")
        elif entry is not None:
            self.err("app.json", "entryPagePath", f"entryPagePath: {entry!r} is not a listed page")
        elif pages_list and pages_list[0].strip("/") in p.pages:
            p.entry_page = pages_list[0].strip("/")
        self.check_tabbar(app)
        p.app = app
        queue = [c for info in p.pages.values() for c in info.using.values()] + list(global_using.values())
        while queue:
            comp = queue.pop()
            if comp in p.components:
                continue
            info = self.load_component(comp)
            p.components[comp] = info
            queue.extend(info.using.values())

    def check_tabbar(self, app: dict[str, Any]) -> None:
        tb = app.get("tabBar")
        if tb is None:
            return
        items = tb.get("list") if isinstance(tb, dict) else None
        if not isinstance(items, list) or not TABBAR_MIN <= len(items) <= TABBAR_MAX:
            self.err("app.json", "tabBar", f"tabBar.list: must hold {TABBAR_MIN} to {TABBAR_MAX} items")
            return
        text = self.project.text("app.json") or ""
        for i, item in enumerate(items):
            path = item.get("pagePath") if isinstance(item, dict) else None
            if not isinstance(path, str) or path.strip("/") not in self.project.pages:
                line, col = locate_path(text, ["tabBar", "list", i, "pagePath"])
                self.sink.add(
                    "app.json", line, col, f"tabBar.list[{i}].pagePath: {path!r} is not a listed page", "config"
                )
            elif not isinstance(item.get("text"), str):
                # WeChat draws the item with an empty label (an icon-only tab bar)
                line, col = locate_path(text, ["tabBar", "list", i])
                self.sink.warn(
                    "app.json", line, col, f"tabBar.list[{i}].text: missing; the tab shows no label", "config"
                )

    # -- components -----------------------------------------------------------------------------------
    def load_component(self, comp: str) -> ComponentInfo:
        path = comp + ".json"
        cj = self.json_file(path) or {}
        if cj.get("component") is not True:
            self.sink.add(
                path, 1, 1, 'component: a component\'s .json must declare "component": true', "config"
            )
        for ext in (".wxml", ".js"):
            if not self.exists(comp + ext):
                self.sink.add(path, 1, 1, f"component {comp!r} has no {comp + ext}", "missing-component")
        own = cj.get("usingComponents", {})
        if not isinstance(own, dict):
            self.err(path, "usingComponents", "usingComponents: must be an object")
            own = {}
        using = self.resolve_using(path, comp, own, self.global_using)
        generics = cj.get("componentGenerics")
        if isinstance(generics, dict):
            cj = dict(cj)
            resolved_generics: dict[str, Any] = {}
            for name, spec in generics.items():
                if isinstance(spec, dict) and isinstance(spec.get("default"), str):
                    target = self.find_component(spec["default"], comp)
                    if target is None:
                        self.err(
                            path,
                            spec["default"],
                            f"componentGenerics.{name}.default: component not found: {spec['default']}",
                            "missing-component",
                        )
                        resolved_generics[name] = spec
                    else:
                        resolved_generics[name] = {**spec, "default": target}
                else:
                    resolved_generics[name] = spec
            cj["componentGenerics"] = resolved_generics
        return ComponentInfo(cj, using)

    def resolve_using(
        self, path: str, user: str, own: dict[str, Any], inherited: dict[str, str]
    ) -> dict[str, str]:
        """Resolved `usingComponents` of a page/component (`user` = its path without extension)."""
        out = dict(inherited)
        for tag, spec in own.items():
            if not isinstance(spec, str) or not spec:
                self.err(path, tag, f"usingComponents.{tag}: must be a component path")
                continue
            if spec.startswith("plugin://"):
                self.err(
                    path,
                    spec,
                    f"usingComponents.{tag}: plugins are not supported: {spec}",
                    "missing-component",
                )
                continue
            target = self.find_component(spec, user)
            if target is None:
                self.err(
                    path, spec, f"usingComponents.{tag}: component not found: {spec}", "missing-component"
                )
                continue
            out[tag] = target
        return out

    def find_component(self, spec: str, user: str) -> str | None:
        """WeChat's lookup: `/abs`, relative, then `miniprogram_npm/` walking up from the user's folder."""
        here = posixpath.dirname(user)
        candidates: list[str] = []
        if spec.startswith("/"):
            candidates.append(spec[1:])
        else:
            candidates.append(posixpath.join(here, spec))
            if not spec.startswith("."):
                d = here
                while True:
                    candidates.append(posixpath.join(d, "miniprogram_npm", spec))
                    if not d:
                        break
                    d = posixpath.dirname(d)
        for c in candidates:
            norm = posixpath.normpath(c)
            if norm.startswith(".."):
                continue
            for cand in (norm, posixpath.join(norm, "index")):
                if self.exists(cand + ".json") or (self.exists(cand + ".wxml") and self.exists(cand + ".js")):
                    return cand
        return None


def load_project(src_dir: Path, sink: ErrorSink) -> Project:
    """Read and validate a project; errors go to `sink`."""
    return ProjectLoader(src_dir, sink).load()
