"""Supply chain: import an OSV advisory feed (offline, a file), and turn a version's npm packages
into an SBOM blob and findings for its check report. A critical advisory blocks submission."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from minibox.platform.context import Ctx
from minibox.platform.errors import InvalidInput
from minibox.platform.supplychain import advisories as osv
from minibox.platform.supplychain.models import Advisory, AdvisoryPackage
from minibox.platform.supplychain.sbom import UNKNOWN, NpmPackage, cyclonedx, scan

#: Severities that block submission; the others inform the reviewer.
BLOCKING = frozenset({"critical"})
#: Most findings kept per rule (the report stays readable whatever the feed holds).
MAX_FINDINGS = 200


@dataclass
class ImportResult:
    imported: int
    updated: int
    unchanged: int
    skipped: int


def import_feed(ctx: Ctx, data: bytes) -> ImportResult:
    """Add or update the npm advisories of an OSV feed for the caller's organisation."""
    assert ctx.actor is not None
    try:
        records = osv.read_feed(data)
    except (osv.FeedError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"advisory feed: {exc}", code="invalid_feed") from None
    org_id = ctx.actor.org_id
    parsed = [a for a in (osv.parse(r) for r in records) if a is not None]
    existing = {row.osv_id: row for row in ctx.s.execute(
        select(Advisory).where(Advisory.org_id == org_id)).scalars()}
    result = ImportResult(0, 0, 0, len(records) - len(parsed))
    for adv in parsed:
        row = existing.get(adv.osv_id)
        if row is not None and row.modified >= adv.modified and row.data == adv.data:
            result.unchanged += 1
            continue
        if row is None:
            row = Advisory(org_id=org_id, osv_id=adv.osv_id)
            ctx.s.add(row)
            existing[adv.osv_id] = row
            result.imported += 1
        else:
            ctx.s.execute(delete(AdvisoryPackage).where(AdvisoryPackage.advisory_pk == row.id))
            result.updated += 1
        row.modified, row.severity, row.summary, row.data = adv.modified, adv.severity, adv.summary, adv.data
        ctx.s.flush()
        ctx.s.add_all(AdvisoryPackage(advisory_pk=row.id, name=n) for n in adv.packages)
    ctx.s.flush()
    ctx.audit("advisories.import", f"org:{org_id}", {"imported": result.imported, "updated": result.updated,
                                                      "unchanged": result.unchanged, "skipped": result.skipped})
    return result


def advisory_counts(ctx: Ctx) -> dict[str, int]:
    assert ctx.actor is not None
    counts = {s: 0 for s in osv.SEVERITIES}
    for (sev,) in ctx.s.execute(select(Advisory.severity).where(Advisory.org_id == ctx.actor.org_id)):
        counts[sev] = counts.get(sev, 0) + 1
    return counts


def packages_of(bundle_dir: Path, source_dir: Path | None) -> list[NpmPackage]:
    """The npm packages of an upload: from its sources (with package.json, lock file and
    node_modules beside them) or, for a precompiled package, from the bundle's assets."""
    if source_dir is not None:
        root = source_dir
        cfg = root / "project.config.json"
        try:
            mp = json.loads(cfg.read_text("utf-8")).get("miniprogramRoot") if cfg.is_file() else None
        except (OSError, ValueError, AttributeError):
            mp = None
        package_root = root / mp if isinstance(mp, str) and mp and (root / mp).is_dir() else root
        return scan(package_root, root)
    assets = bundle_dir / "assets"
    return scan(assets) if assets.is_dir() else []


def sbom_document(app_id: str, version: str, packages: list[NpmPackage]) -> bytes:
    return json.dumps(cyclonedx(app_id, version, packages), indent=1, sort_keys=True).encode("utf-8")


def summary(packages: Iterable[NpmPackage]) -> list[dict[str, Any]]:
    return [{"name": p.name, "version": p.version, "licence": p.licence, "path": p.path,
             "files": len(p.files), "sha256": p.digest} for p in packages]


def findings(ctx: Ctx, org_id: int, packages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Check-report findings for the packages of a version against the organisation's advisories."""
    out: list[dict[str, Any]] = []
    names = sorted({p["name"] for p in packages})
    rows: dict[str, list[Advisory]] = {}
    if names:
        q = (select(AdvisoryPackage.name, Advisory).join(Advisory, Advisory.id == AdvisoryPackage.advisory_pk)
             .where(Advisory.org_id == org_id, AdvisoryPackage.name.in_(names)))
        for name, row in ctx.s.execute(q):
            rows.setdefault(name, []).append(row)
    for pkg in packages:
        file = f"{pkg['path']}/"
        if pkg["version"] == UNKNOWN:
            out.append({"rule": "deps.unknown_version", "severity": "warning", "file": file, "line": None,
                        "column": None, "message": f"{pkg['name']}: no version found (no package.json, "
                                                   "node_modules or package-lock.json entry); advisories cannot be matched"})
            continue
        for row in sorted(rows.get(pkg["name"], []), key=lambda r: r.osv_id):
            adv = osv.Advisory(row.osv_id, row.modified, row.summary, row.severity, (pkg["name"],), row.data)
            if not osv.affects(adv, pkg["name"], pkg["version"]):
                continue
            fixed = osv.fixed_versions(adv, pkg["name"])
            aliases = ", ".join(adv.aliases[:3])
            message = (f"{pkg['name']}@{pkg['version']} is affected by {row.osv_id}"
                       f"{' (' + aliases + ')' if aliases else ''} [{row.severity}]: {row.summary}"
                       f"{'; fixed in ' + ', '.join(fixed) if fixed else ''}")
            out.append({"rule": "deps.vulnerable", "severity": "error" if row.severity in BLOCKING else "warning",
                        "file": file, "line": None, "column": None, "message": message[:600]})
    return out[:MAX_FINDINGS]


def apply_findings(report: dict[str, Any], found: list[dict[str, Any]]) -> dict[str, Any]:
    """The report with supply-chain findings added and `passed` recomputed."""
    kept = [f for f in report.get("findings", []) if not str(f.get("rule", "")).startswith("deps.")]
    merged = [*kept, *found]
    return {**report, "findings": merged, "passed": not any(f.get("severity") == "error" for f in merged)}


def override(ctx: Ctx, app_id: str, version: str, reason: str) -> Any:
    """A reviewer accepts a version's blocking advisories with a reason (the risk is the bank's to
    take): those findings stay in the report, marked overridden, and no longer block submission."""
    from minibox.platform.apps import service as apps
    from minibox.platform.errors import Conflict

    assert ctx.actor is not None
    _app, v = apps.get_version(ctx, app_id, version)
    if v.status != apps.CHECK_FAILED:
        raise Conflict(f"version is {v.status}: nothing blocks it", code="bad_state")
    report = dict(v.report)
    findings = [dict(f) for f in report.get("findings", [])]
    blocking = [f for f in findings if f.get("rule") == "deps.vulnerable" and f.get("severity") == "error"]
    if not blocking:
        raise Conflict("only blocking advisories can be overridden; fix the other errors", code="not_overridable")
    for f in blocking:
        f["severity"], f["overridden"] = "warning", True
    report["findings"] = findings
    report["overrides"] = [*report.get("overrides", []), {
        "by": ctx.actor.user_id, "reason": reason, "findings": [f["message"][:200] for f in blocking]}]
    report["passed"] = not any(f.get("severity") == "error" for f in findings)
    v.report = report
    if report["passed"]:
        v.status = apps.CHECKED
    ctx.audit("advisories.override", f"app:{app_id}@{version}", {"reason": reason, "findings": len(blocking)})
    return v

