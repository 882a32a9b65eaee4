"""The npm packages a mini-program ships, as a CycloneDX 1.5 SBOM.

A package is a folder of `miniprogram_npm` (`name` or `@scope/name`, at any depth, as WeChat's npm
build lays them out). Its version and licence come from the first of: its own `package.json`, the
project's `node_modules/<name>/package.json`, the project's `package-lock.json`; a version that
none of them states is "unknown" (and no advisory can be matched to it: the report says so).
Every file of the package is hashed, so the SBOM pins exactly what was reviewed.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

NPM_DIR = "miniprogram_npm"
#: Most packages and files per package listed (a hostile upload cannot make a huge SBOM).
MAX_PACKAGES = 2_000
MAX_FILES_PER_PACKAGE = 5_000
#: Largest package.json / lock file read.
MAX_JSON_BYTES = 20_000_000
UNKNOWN = "unknown"


@dataclass
class NpmPackage:
    name: str
    version: str
    path: str  # package-relative folder, e.g. "miniprogram_npm/@vant/weapp"
    licence: str = ""
    version_source: str = ""  # package.json | node_modules | package-lock | ""
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256

    @property
    def purl(self) -> str:
        return f"pkg:npm/{quote(self.name, safe='/')}@{quote(self.version)}"

    @property
    def digest(self) -> str:
        """One SHA-256 over the package's file list and hashes."""
        h = hashlib.sha256()
        for rel, sha in sorted(self.files.items()):
            h.update(f"{rel}\0{sha}\n".encode())
        return h.hexdigest()


def _read_json(path: Path) -> Any:
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_JSON_BYTES:
            return None
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None


def _licence(meta: dict[str, Any]) -> str:
    lic = meta.get("license")
    if isinstance(lic, dict):
        lic = lic.get("type")
    if isinstance(lic, str):
        return lic[:100]
    lics = meta.get("licenses")
    if isinstance(lics, list):
        names = [x.get("type") if isinstance(x, dict) else x for x in lics]
        return " OR ".join(str(n) for n in names if n)[:100]
    return ""


def _package_dirs(npm_root: Path) -> list[tuple[str, Path]]:
    out = []
    for entry in sorted(npm_root.iterdir()):
        if entry.is_symlink() or not entry.is_dir():
            continue
        if entry.name.startswith("@"):
            for sub in sorted(entry.iterdir()):
                if sub.is_dir() and not sub.is_symlink():
                    out.append((f"{entry.name}/{sub.name}", sub))
        else:
            out.append((entry.name, entry))
    return out


def _hash_files(folder: Path, skip_npm: bool = True) -> dict[str, str]:
    files: dict[str, str] = {}
    for p in sorted(folder.rglob("*")):
        if len(files) >= MAX_FILES_PER_PACKAGE:
            break
        rel = p.relative_to(folder).as_posix()
        if p.is_symlink() or not p.is_file() or (skip_npm and f"/{NPM_DIR}/" in f"/{rel}"):
            continue
        files[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return files


def _lock_entries(project_dir: Path) -> dict[str, dict[str, Any]]:
    """name -> {version, license} from package-lock.json (lockfile v1, v2 and v3)."""
    lock = _read_json(project_dir / "package-lock.json")
    out: dict[str, dict[str, Any]] = {}
    if not isinstance(lock, dict):
        return out
    packages = lock.get("packages")
    if isinstance(packages, dict):
        for key, meta in packages.items():
            if isinstance(meta, dict) and key.startswith("node_modules/") and isinstance(meta.get("version"), str):
                name = key.rsplit("node_modules/", 1)[1]
                out.setdefault(name, meta)
    deps = lock.get("dependencies")
    if isinstance(deps, dict):
        for name, meta in deps.items():
            if isinstance(meta, dict) and isinstance(meta.get("version"), str):
                out.setdefault(name, meta)
    return out


def scan(package_root: Path, project_dir: Path | None = None) -> list[NpmPackage]:
    """Every npm package under any `miniprogram_npm` folder of `package_root` (the mini-program
    root); `project_dir` (default: the same) is where package.json, package-lock.json and
    node_modules are looked up."""
    project_dir = project_dir or package_root
    lock = _lock_entries(project_dir)
    if project_dir != package_root:
        for name, meta in _lock_entries(package_root).items():
            lock.setdefault(name, meta)
    found: list[NpmPackage] = []
    roots = sorted(p for p in package_root.rglob(NPM_DIR) if p.is_dir() and not p.is_symlink())
    for npm_root in roots:
        rel_root = npm_root.relative_to(package_root).as_posix()
        if "node_modules" in rel_root.split("/"):
            continue
        for name, folder in _package_dirs(npm_root):
            if len(found) >= MAX_PACKAGES:
                return found
            pkg = NpmPackage(name, UNKNOWN, f"{rel_root}/{name}")
            for source, meta in (
                ("package.json", _read_json(folder / "package.json")),
                ("node_modules", _read_json(project_dir / "node_modules" / name / "package.json")),
                ("package-lock", lock.get(name)),
            ):
                if isinstance(meta, dict) and isinstance(meta.get("version"), str) and meta["version"]:
                    pkg.version, pkg.version_source = meta["version"][:64], source
                    pkg.licence = _licence(meta)
                    break
            pkg.files = _hash_files(folder)
            found.append(pkg)
    return found


def cyclonedx(app_id: str, version: str, packages: list[NpmPackage], *, now: datetime | None = None) -> dict[str, Any]:
    """A CycloneDX 1.5 JSON document for one version of an app."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    components = []
    for pkg in packages:
        comp: dict[str, Any] = {
            "type": "library",
            "bom-ref": f"{pkg.purl}#{pkg.path}",
            "name": pkg.name.split("/", 1)[1] if pkg.name.startswith("@") else pkg.name,
            "version": pkg.version,
            "purl": pkg.purl,
            "hashes": [{"alg": "SHA-256", "content": pkg.digest}],
            "properties": [
                {"name": "minibox:path", "value": pkg.path},
                {"name": "minibox:versionSource", "value": pkg.version_source or "none"},
                {"name": "minibox:fileCount", "value": str(len(pkg.files))},
            ],
        }
        if pkg.name.startswith("@"):
            comp["group"] = pkg.name.split("/", 1)[0]
        if pkg.licence:
            key = "id" if _is_spdx_id(pkg.licence) else "name"
            comp["licenses"] = [{"license": {key: pkg.licence}}]
        components.append(comp)
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": stamp,
            "tools": {"components": [{"type": "application", "name": "minibox"}]},
            "component": {"type": "application", "bom-ref": app_id, "name": app_id, "version": version},
        },
        "components": components,
        "dependencies": [{"ref": app_id, "dependsOn": [c["bom-ref"] for c in components]}],
    }


_SPDX_COMMON = frozenset({"MIT", "ISC", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "0BSD", "Unlicense",
                          "MPL-2.0", "LGPL-2.1", "LGPL-3.0", "GPL-2.0", "GPL-3.0", "AGPL-3.0", "CC0-1.0"})


def _is_spdx_id(text: str) -> bool:
    return text in _SPDX_COMMON or text.removesuffix("-only").removesuffix("-or-later") in _SPDX_COMMON
