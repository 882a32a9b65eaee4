"""Automated checks of an uploaded version, giving a report the reviewer reads.

Rules: `compile.error` and `compile.warning` (the compiler's findings, file:line:col), `size.main`, `size.total` (WeChat: 2 MB main package, 20 MB in all), `api.forbidden` (eval,
new Function: a warning for the reviewer; WeChat loads such code and the call throws at run time, as
it does in the sandbox), `privacy.undeclared` (privacy APIs without `requiredPrivateInfos`), and
`domain.undeclared` (https/wss hosts in code that no allowlist declares; a warning), and, when the
app's allowlist has `privacy` settings, `privacy.info_not_granted` and `privacy.scope_not_granted`
(app.json `requiredPrivateInfos` / `permission`, wx calls, `scope.*` names and
`open-type="getPhoneNumber"` buttons asking for what the platform does not grant the app: warnings,
the host refuses those calls at run time).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from minibox.compiler.bundle import DIAGNOSTICS_FILE
from minibox.compiler.jstokens import JsSyntaxError, tokenize
from minibox.compiler.logic import find_dynamic_code

MAIN_PACKAGE_LIMIT = 2 * 1024 * 1024
TOTAL_PACKAGE_LIMIT = 20 * 1024 * 1024
#: APIs that need a `requiredPrivateInfos` declaration in app.json (WeChat).
PRIVACY_APIS = ("getFuzzyLocation", "getLocation", "onLocationChange", "startLocationUpdate",
                "startLocationUpdateBackground", "chooseLocation", "choosePoi", "chooseAddress")
#: Most findings kept per rule, so a hostile upload cannot make a huge report.
MAX_FINDINGS_PER_RULE = 50
_SCANNED_SUFFIXES = (".js", ".wxs", ".wxml")
_URL = re.compile(r"\b(?:https|wss)://[A-Za-z0-9.\-]+(?::\d{1,5})?")
_EVAL = re.compile(r"(?<![\w$.])eval\s*\(")
_NEW_FUNCTION = re.compile(r"\bnew\s+Function\s*\(")
_GLOBAL_THIS_IDIOM = re.compile(r"""\bnew\s+Function\s*\(\s*(['"])return this\1\s*\)""")
_PRIVACY = re.compile(r"\bwx\s*\.\s*(" + "|".join(PRIVACY_APIS) + r")\b")
#: wx APIs and the permission scope each asks for (WeChat's authorization list).
SCOPED_APIS = {
    "getLocation": "scope.userLocation", "onLocationChange": "scope.userLocation",
    "startLocationUpdate": "scope.userLocation", "getFuzzyLocation": "scope.userFuzzyLocation",
    "startLocationUpdateBackground": "scope.userLocationBackground", "chooseAddress": "scope.address",
    "chooseInvoiceTitle": "scope.invoiceTitle", "chooseInvoice": "scope.invoice", "getWeRunData": "scope.werun",
    "startRecord": "scope.record", "getRecorderManager": "scope.record",
    "saveImageToPhotosAlbum": "scope.writePhotosAlbum", "saveVideoToPhotosAlbum": "scope.writePhotosAlbum",
    "createCameraContext": "scope.camera", "openBluetoothAdapter": "scope.bluetooth", "getUserInfo": "scope.userInfo",
}
_SCOPED = re.compile(r"\bwx\s*\.\s*(" + "|".join(SCOPED_APIS) + r")\b")
_SCOPE_NAME = re.compile(r"""["'`](scope\.[A-Za-z]+)["'`]""")
_PHONE_BUTTON = re.compile(r"""open-type\s*=\s*["']getPhoneNumber["']""")
_DEFINE = re.compile(r"""__mbDefine\(\s*["']([^"']+)["']""")


@dataclass
class Finding:
    rule: str
    severity: str  # "error" blocks submission, "warning" informs the reviewer
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None


def _sources(bundle_dir: Path, source_dir: Path | None) -> list[tuple[str, str, int]]:
    """(file, text, first line number) units to scan: the sources if we have them, else the bundle's JS."""
    units: list[tuple[str, str, int]] = []
    if source_dir is not None:
        for path in sorted(source_dir.rglob("*")):
            if path.is_file() and path.suffix in _SCANNED_SUFFIXES:
                units.append((path.relative_to(source_dir).as_posix(), path.read_text("utf-8", "replace"), 1))
        return units
    for name in ("logic.js", "render.js"):
        path = bundle_dir / name
        if not path.exists():
            continue
        text = path.read_text("utf-8", "replace")
        marks = list(_DEFINE.finditer(text))
        if not marks:
            units.append((name, text, 1))
        for i, m in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
            units.append((m.group(1), text[m.start():end], 0))  # the define line is line 0 of the module
    return units


def _dynamic_code(file: str, text: str, first: int) -> list[tuple[int, int, str]]:
    """(line, column, "eval" | "new Function") of dynamic code: on JS tokens as the compiler finds it
    (never in strings or comments), by pattern where the text is not JS the scanner can read."""
    if file.endswith(".js"):
        try:
            toks = tokenize(text)
        except JsSyntaxError:
            toks = None
        if toks is not None:
            return [(e.line + first - 1, e.column, "eval" if e.code == "no-eval" else "new Function")
                    for e in find_dynamic_code(file, text, toks)]
    found = []
    for m in _EVAL.finditer(text):
        found.append((*_position(text, m.start(), first), "eval"))
    for m in _NEW_FUNCTION.finditer(text):
        if not _GLOBAL_THIS_IDIOM.match(text, m.start()):
            found.append((*_position(text, m.start(), first), "new Function"))
    return found


def _position(text: str, offset: int, first_line: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset)
    col = offset - (text.rfind("\n", 0, offset) + 1)
    return first_line + line, col + 1


#: The compiler's codes for eval / new Function, which the `api.forbidden` rule reports.
DYNAMIC_CODE_CODES = frozenset({"no-eval", "no-new-function"})


def _diagnostics(bundle_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """The compiler's errors and warnings kept in the bundle (an older bundle has none)."""
    try:
        data = json.loads((bundle_dir / DIAGNOSTICS_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: [d for d in v if isinstance(d, dict)] for k, v in data.items() if isinstance(v, list)}


def _declared_hosts(allowlist: dict[str, Any]) -> set[str]:
    hosts = set()
    for key, entries in allowlist.items():
        if key == "hostApis" or not isinstance(entries, list):
            continue
        for entry in entries:
            hosts.add(urlsplit(entry).netloc.lower())
    return hosts


def _sizes(bundle_dir: Path, app: dict[str, Any]) -> tuple[int, int]:
    roots = [str(sp.get("root", "")).strip("/") + "/" for sp in app.get("subpackages") or [] if sp.get("root")]
    total = main = 0
    for path in bundle_dir.rglob("*"):
        if not path.is_file():
            continue
        size = path.stat().st_size
        total += size
        rel = path.relative_to(bundle_dir).as_posix()
        rel = rel.split("/", 1)[1] if rel.startswith(("assets/", "styles/")) else rel
        if not any(rel.startswith(root) for root in roots):
            main += size
    return main, total


def run_checks(bundle_dir: Path, allowlist: dict[str, Any], source_dir: Path | None = None) -> dict[str, Any]:
    """Check a compiled bundle (and its sources when uploaded as source); returns the report."""
    try:
        bundle = json.loads((bundle_dir / "bundle.json").read_text("utf-8"))
        app = bundle.get("app") or {}
    except (OSError, ValueError):
        app = {}
    findings: list[Finding] = []
    counts: dict[str, int] = {}

    def add(f: Finding) -> None:
        counts[f.rule] = counts.get(f.rule, 0) + 1
        if counts[f.rule] <= MAX_FINDINGS_PER_RULE:
            findings.append(f)

    # the compiler's own findings: a file that failed alone is an error (its pages open as error
    # pages); what WeChat accepts but a developer should fix is a warning
    diagnostics = _diagnostics(bundle_dir)
    for severity in ("error", "warning"):
        for d in diagnostics.get(severity + "s", []):
            if d.get("code") in DYNAMIC_CODE_CODES:
                continue  # reported once, as `api.forbidden`, by the scan below
            add(Finding(f"compile.{severity}", severity, f"{d.get('message', '')} [{d.get('code', '')}]",
                        d.get("file"), d.get("line"), d.get("column")))

    main, total = _sizes(bundle_dir, app)
    if main > MAIN_PACKAGE_LIMIT:
        add(Finding("size.main", "error", f"main package is {main} bytes, over {MAIN_PACKAGE_LIMIT}"))
    if total > TOTAL_PACKAGE_LIMIT:
        add(Finding("size.total", "error", f"package is {total} bytes, over {TOTAL_PACKAGE_LIMIT}"))

    declared_private = set(app.get("requiredPrivateInfos") or [])
    # the platform's privacy settings for the app (allowlist `privacy`); None: not restricted
    privacy = allowlist.get("privacy") if isinstance(allowlist.get("privacy"), dict) else None
    granted_scopes = set(privacy.get("scopes") or []) if privacy is not None else None
    granted_infos = set(privacy.get("infos") or []) if privacy is not None else None
    if granted_infos is not None:
        for name in sorted(x for x in declared_private if isinstance(x, str) and x not in granted_infos):
            add(Finding("privacy.info_not_granted", "warning",
                        f"app.json requiredPrivateInfos declares \"{name}\", which the app's privacy settings "
                        "do not grant: the host refuses it", "app.json"))
    if granted_scopes is not None:
        perm = app.get("permission") if isinstance(app.get("permission"), dict) else {}
        for scope in sorted(x for x in perm if x not in granted_scopes):
            add(Finding("privacy.scope_not_granted", "warning",
                        f"app.json permission asks for {scope}, which the app's privacy settings do not grant: "
                        "the host refuses it", "app.json"))
    reported_scopes: set[tuple[str, str]] = set()

    def scope_not_granted(scope: str, why: str, file: str, text: str, offset: int, first: int) -> None:
        if granted_scopes is None or scope in granted_scopes or (file, scope) in reported_scopes:
            return
        reported_scopes.add((file, scope))
        line, col = _position(text, offset, first)
        add(Finding("privacy.scope_not_granted", "warning",
                    f"{why} asks for {scope}, which the app's privacy settings do not grant: the host refuses it",
                    file, line, col))
    declared_hosts = _declared_hosts(allowlist)
    undeclared_hosts: set[str] = set()
    for file, text, first in _sources(bundle_dir, source_dir):
        for rule_line, rule_col, what in _dynamic_code(file, text, first):
            add(Finding("api.forbidden", "warning",
                        f"{what} is not supported in mini-programs: the call throws at run time",
                        file, rule_line, rule_col))
        for m in _PRIVACY.finditer(text):
            if m.group(1) not in declared_private:
                line, col = _position(text, m.start(), first)
                add(Finding("privacy.undeclared", "error",
                            f"wx.{m.group(1)} needs \"{m.group(1)}\" in app.json requiredPrivateInfos", file, line, col))
            elif granted_infos is not None and m.group(1) not in granted_infos:
                line, col = _position(text, m.start(), first)
                add(Finding("privacy.info_not_granted", "warning",
                            f"wx.{m.group(1)} is not among the privacy infos the app's privacy settings grant: "
                            "the host refuses it", file, line, col))
        if granted_scopes is not None:
            for m in _SCOPED.finditer(text):
                scope_not_granted(SCOPED_APIS[m.group(1)], f"wx.{m.group(1)}", file, text, m.start(), first)
            for m in _SCOPE_NAME.finditer(text):
                scope_not_granted(m.group(1), "the code", file, text, m.start(), first)
            for m in _PHONE_BUTTON.finditer(text):
                scope_not_granted("scope.phoneNumber", 'open-type="getPhoneNumber"', file, text, m.start(), first)
        for m in _URL.finditer(text):
            host = urlsplit(m.group(0)).netloc.lower()
            if host not in declared_hosts and host not in undeclared_hosts:
                undeclared_hosts.add(host)
                line, col = _position(text, m.start(), first)
                add(Finding("domain.undeclared", "warning",
                            f"{m.group(0)} is used but not in the app's allowlist", file, line, col))
    return {
        "passed": not any(f.severity == "error" for f in findings),
        "findings": [asdict(f) for f in findings],
        "truncated": {rule: n for rule, n in counts.items() if n > MAX_FINDINGS_PER_RULE},
        "sizes": {"main": main, "total": total, "main_limit": MAIN_PACKAGE_LIMIT, "total_limit": TOTAL_PACKAGE_LIMIT},
        "undeclared_domains": sorted(undeclared_hosts),
    }
