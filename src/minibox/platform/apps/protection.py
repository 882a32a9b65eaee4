"""Code protection on the platform (issue 14): what hosts get is minified, what people review is not.

- The app's setting (`App.code_protection`, `set_code_protection`) decides for new uploads; an upload
  may say otherwise (`protect=true|false`). It is decided per version, at upload, and recorded.
- At upload the version is compiled (or unpacked) and checked as always: reviewers read that source
  and that bundle (`bundle_sha256`), and approve exactly it. `protect_upload` then derives the
  delivered bundle from it in a child process (`toolchain.protect_bundle`: terser inside QuickJS,
  OS limits, a deadline): `protected_bundle_sha256`, built into every host package, and its private
  source maps, `sourcemap_sha256`, a blob no route serves and no package holds.
- Modules that cannot be protected are delivered as written, with a `protect.skipped` warning in the
  check report naming the file; a failure of the whole run delivers the version unprotected, with a
  `protect.failed` warning. Protection never fails an upload.
- Error reports of protected versions (telemetry `error` / `rejection` frames, `path:line:col` of the
  minified code) are mapped back to the original file, line and column when they are shown
  (`map_top_errors`, for the Metrics dashboard); what hosts sent is kept as they sent it.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from minibox.compiler.protect import LogicMap
from minibox.platform.apps.archive import deterministic_zip
from minibox.platform.apps.models import App, Version
from minibox.platform.blobs import BlobStore
from minibox.platform.context import Ctx

log = logging.getLogger("minibox.platform.protection")

#: Most skipped modules listed as findings in the check report.
MAX_SKIPPED_FINDINGS = 50
#: Map documents kept parsed in memory (per process), most recently used first.
MAP_CACHE_SIZE = 16


def set_code_protection(ctx: Ctx, app_id: str, enabled: bool) -> App:
    """Turn code protection of the app's new uploads on or off (versions already uploaded keep theirs)."""
    from minibox.platform.apps import service as apps

    app = apps.get_app(ctx, app_id)
    if app.code_protection != enabled:
        ctx.audit("app.code_protection", f"app:{app_id}", {"before": app.code_protection, "after": enabled})
        app.code_protection = enabled
    return app


@dataclass
class Protected:
    """The outcome of protecting one upload: blobs (None when nothing was protected) and the report part."""

    bundle_sha256: str | None = None
    sourcemap_sha256: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)


def _finding(rule: str, message: str, file: str | None = None) -> dict[str, Any]:
    return {"rule": rule, "severity": "warning", "message": message, "file": file, "line": None, "column": None}


def protect_upload(blobs: BlobStore, bundle_dir: Path, work: Path) -> Protected:
    """Protect a copy of a checked bundle; store the delivered bundle and its maps as blobs."""
    from minibox.platform import toolchain

    delivered, maps = work / "delivered", work / "logic.sourcemap.json"
    shutil.copytree(bundle_dir, delivered)
    try:
        summary = toolchain.protect_bundle(delivered, maps)
    except toolchain.ProtectFailed as e:
        log.warning("code protection failed: %s", e)
        return Protected(summary={"requested": True, "error": str(e)},
                         findings=[_finding("protect.failed", f"{e}: the version is delivered unprotected")])
    skipped = summary.get("skipped") or []
    findings = [_finding("protect.skipped", str(s.get("message", "")), str(s.get("file", "")))
                for s in skipped[:MAX_SKIPPED_FINDINGS]]
    summary = {"requested": True, **summary}
    if not summary.get("protected"):
        return Protected(summary=summary, findings=findings)  # nothing changed: deliver the checked bundle
    return Protected(blobs.put(deterministic_zip(delivered)), blobs.put(maps.read_bytes()), summary, findings)


# ---- mapping error reports back ---------------------------------------------------------------------------

_maps: OrderedDict[tuple[int, str], LogicMap] = OrderedDict()
_maps_lock = threading.Lock()


def load_map(blobs: BlobStore, sha256: str) -> LogicMap | None:
    """A version's map document, parsed (cached); None if it cannot be read."""
    key = (id(blobs), sha256)
    with _maps_lock:
        found = _maps.get(key)
        if found is not None:
            _maps.move_to_end(key)
            return found
    try:
        loaded = LogicMap(orjson.loads(blobs.get(sha256)))
    except Exception:  # a missing or unreadable blob: the frames are shown as reported
        log.warning("source map %s of a protected version cannot be read", sha256, exc_info=True)
        return None
    with _maps_lock:
        _maps[key] = loaded
        while len(_maps) > MAP_CACHE_SIZE:
            _maps.popitem(last=False)
    return loaded


def version_maps(s: Session, blobs: BlobStore, app: App, versions: set[str]) -> dict[str, LogicMap]:
    """The maps of those of the app's versions that are protected."""
    if not versions:
        return {}
    rows = s.execute(select(Version.version, Version.sourcemap_sha256).where(
        Version.app_pk == app.id, Version.version.in_(sorted(versions)), Version.sourcemap_sha256.isnot(None)))
    out = {}
    for version, sha in rows:
        found = load_map(blobs, sha)
        if found is not None:
            out[version] = found
    return out


def map_top_errors(s: Session, blobs: BlobStore, app: App, errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Top errors with the frames of protected versions mapped to the original files (by each group's
    `first_version`, whose stack it is); `reported_location` / `reported_stack` keep what hosts sent."""
    maps = version_maps(s, blobs, app, {str(e.get("first_version")) for e in errors})
    out = []
    for e in errors:
        m = maps.get(str(e.get("first_version")))
        if m is None:
            out.append(e)
            continue
        out.append({**e, "location": m.frame(e["location"]), "stack": [m.frame(f) for f in e["stack"]],
                    "mapped": True, "reported_location": e["location"], "reported_stack": e["stack"]})
    return out
