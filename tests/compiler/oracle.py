"""Test-only oracles: WeChat's own `wcc`/`wcsc` (npm `miniprogram-compiler`), installed by
scripts/oracles.sh into tests/.oracles (git-ignored). Nothing here is part of minibox.

`Wcc.compile(files)` runs wcc on a little project (path -> text) and says whether it accepts it;
`Wcc.render_many(...)` evaluates wcc's generated JS in one node process and returns WeChat's tree for
each accepted case, normalised to the same shape as `normalise_minibox`.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ORACLES = Path(__file__).resolve().parents[1] / ".oracles" / "node_modules"
WCC_PKG = ORACLES / "miniprogram-compiler"
INSTALL_HINT = "run ./scripts/oracles.sh (npm installs WeChat's wcc/wcsc into tests/.oracles)"

#: attribute names that are events (kept out of the compared attributes: minibox stores them apart)
EVENT_ATTR = re.compile(r"^(capture-bind|capture-catch|mut-bind|bind|catch)(:?)([A-Za-z_][\w\-]*)$")


def _binary(name: str) -> Path | None:
    p = WCC_PKG / "bin" / "linux" / name
    if not p.is_file():
        return None
    if not os.access(p, os.X_OK):
        try:
            p.chmod(p.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        except OSError:
            return None
    return p


def missing_reason() -> str | None:
    """Why the oracles cannot run here (None when they can)."""
    if _binary("wcc") is None or _binary("wcsc") is None:
        return f"WeChat's wcc/wcsc not found under {WCC_PKG}: {INSTALL_HINT}"
    if not (ORACLES / "glass-easel-template-compiler" / "package.json").is_file():
        return f"glass-easel-template-compiler not found under {ORACLES}: {INSTALL_HINT}"
    if shutil.which("node") is None:
        return "node is not installed (scripts/setup.sh installs it)"
    try:
        r = subprocess.run([str(_binary("wcc"))], capture_output=True, timeout=10)
    except OSError as exc:  # e.g. not x86-64 Linux
        return f"wcc cannot run on this machine: {exc}"
    if b"Wechat WXML Compiler" not in r.stdout + r.stderr:
        return "wcc did not identify itself"
    return None


@dataclass
class Verdict:
    ok: bool
    message: str  # stderr: `file:line:col: message` when refused
    js: str = ""

    @property
    def where(self) -> tuple[int, int] | None:
        m = re.search(r"\.wxml:(\d+):(\d+):", self.message)
        return (int(m.group(1)), int(m.group(2))) if m else None


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text.encode("utf-8"))


class Wcc:
    def __init__(self) -> None:
        wcc, wcsc = _binary("wcc"), _binary("wcsc")
        assert wcc is not None and wcsc is not None, INSTALL_HINT
        self.wcc = str(wcc)
        self.wcsc = str(wcsc)

    def compile(self, files: dict[str, str]) -> Verdict:
        """wcc on every .wxml/.wxs file of `files`, as WeChat's devtools call it (`-d -cc 0 ... -gn $gwx`)."""
        with tempfile.TemporaryDirectory(prefix="wcc-") as tmp:
            _write(Path(tmp), files)
            # as WeChat's devtools pass them: "./"-relative, which also makes "/abs" src paths resolve
            names = ["./" + f for f in sorted(files) if f.endswith(".wxml")]
            names += ["./" + f for f in sorted(files) if f.endswith(".wxs")]
            r = subprocess.run(
                [self.wcc, "-d", "-cc", "0", *names, "-gn", "$gwx"], cwd=tmp, capture_output=True, timeout=30
            )
        err = r.stderr.decode("utf-8", "replace").strip()
        if r.returncode != 0:
            return Verdict(False, err or f"wcc exit {r.returncode}")
        return Verdict(True, err, r.stdout.decode("utf-8", "replace"))

    def compile_wxss(self, files: dict[str, str]) -> Verdict:
        """wcsc on every .wxss file of `files` (`-db -pc 0 ...`, as miniprogram-compiler calls it)."""
        with tempfile.TemporaryDirectory(prefix="wcsc-") as tmp:
            _write(Path(tmp), files)
            names = ["./" + f for f in sorted(files) if f.endswith(".wxss")]
            r = subprocess.run([self.wcsc, "-db", "-pc", "0", *names], cwd=tmp, capture_output=True, timeout=30)
        err = r.stderr.decode("utf-8", "replace").strip()
        if r.returncode != 0:
            return Verdict(False, err or f"wcsc exit {r.returncode}")
        return Verdict(True, err, r.stdout.decode("utf-8", "replace"))

    @staticmethod
    def render_many(jobs: list[tuple[str, str, dict[str, Any]]]) -> list[Any]:
        """[(wcc_js, page_path, data)] -> WeChat's normalised tree for each (or {"error": ...})."""
        with tempfile.TemporaryDirectory(prefix="wccr-") as tmp:
            jf = Path(tmp) / "jobs.json"
            jf.write_text(json.dumps([{"js": j, "path": "./" + p, "data": d} for j, p, d in jobs]), "utf-8")
            r = subprocess.run(
                ["node", str(Path(__file__).with_name("oracle_render.js")), str(jf)],
                capture_output=True,
                timeout=120,
            )
        if r.returncode != 0:
            raise RuntimeError("oracle_render.js failed: " + r.stderr.decode("utf-8", "replace")[-2000:])
        out = json.loads(r.stdout.decode("utf-8"))
        return [_normalise_wcc(t) if not (isinstance(t, dict) and "error" in t) else t for t in out]


# -- tree normalisation: both sides become [tag, {attr: str}, [children...]] / "text" -------------------


def _merge_text(children: list[Any]) -> list[Any]:
    out: list[Any] = []
    for c in children:
        if isinstance(c, str):
            if c == "":
                continue
            if out and isinstance(out[-1], str):
                out[-1] += c
                continue
        out.append(c)
    return out


def _str(v: Any) -> str:
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True, separators=(",", ":"))
    return str(v)


def _keep_attr(name: str) -> bool:
    low = name.lower()
    return not (EVENT_ATTR.match(name) or low.startswith(("data", "mark:", "model:", "wx:", "generic:")))


# Normalisations, each a listed difference of representation, not of behaviour:
# - attribute names: wcc camel-cases `confirm-type` to `confirmType` (the property it sets), minibox keeps
#   the written name and its runtime does the same mapping; both are compared camel-cased;
# - `hidden`: wcc keeps the value, minibox sets `hidden: true` only when it is truthy;
# - an empty `class`/`style` is no class/style (wcc leaves an undefined value out, minibox renders "");
# - tag names are compared lower-cased: minibox lower-cases built-in tags (`<VIEW>` is a view), wcc keeps
#   `VIEW` for the base library to resolve;
# - entities (`&amp;`): minibox decodes them at compile time, as glass-easel does; wcc leaves them in the
#   tree for the renderer. Both are compared decoded.
def _attr_name(name: str) -> str:
    return re.sub(r"-(.)", lambda m: m.group(1).upper(), name)


def _attrs(pairs: list[tuple[str, Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in pairs:
        if not _keep_attr(k):
            continue
        if k in ("class", "style") and v in (None, ""):
            continue
        if k == "hidden":
            if v in (None, False, 0, "", "false"):
                continue
            v = True
        out[_attr_name(k)] = _str(v)
    return out


def _normalise_wcc(node: Any) -> Any:
    if isinstance(node, str):
        return html.unescape(node)
    if not isinstance(node, dict):
        return _str(node)
    tag = node.get("tag", "")
    if tag.startswith("wx-"):
        tag = tag[3:]
    attrs = {k: html.unescape(v) for k, v in _attrs(list((node.get("attr") or {}).items())).items()}
    kids = _merge_text([_normalise_wcc(c) for c in node.get("children") or []])
    return [tag.lower(), attrs, kids]


def normalise_wcc_page(tree: Any) -> list[Any]:
    return tree[2] if isinstance(tree, list) else tree


def normalise_minibox(nodes: list[Any]) -> list[Any]:
    """minibox VNodes (docs/internals.md section 2) -> the shape above."""
    out: list[Any] = []
    for n in nodes:
        if "x" in n:
            out.append(_str(n["x"]))
            continue
        attrs = _attrs(list((n.get("a") or {}).items()))
        if n.get("cls"):
            attrs["class"] = _str(n["cls"])
        if n.get("st"):
            attrs["style"] = _str(n["st"])
        out.append([str(n.get("t", "")).lower(), attrs, normalise_minibox(n.get("c") or [])])
    return _merge_text(out)


def glass_easel_diagnostics(cases: list[dict[str, str]]) -> list[list[dict[str, Any]]]:
    """glass-easel-template-compiler's diagnostics ({isError, level, message, path, startLine...}) per case."""
    with tempfile.TemporaryDirectory(prefix="ge-") as tmp:
        jf = Path(tmp) / "jobs.json"
        jf.write_text(json.dumps([{"files": files} for files in cases]), "utf-8")
        r = subprocess.run(
            ["node", str(Path(__file__).with_name("oracle_glass_easel.js")), str(jf)], capture_output=True, timeout=120
        )
    if r.returncode != 0:
        raise RuntimeError("oracle_glass_easel.js failed: " + r.stderr.decode("utf-8", "replace")[-2000:])
    return json.loads(r.stdout.decode("utf-8"))
