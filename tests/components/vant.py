"""@vant/weapp for tests and the conformance harness: a pinned npm install, cached between runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

VANT_VERSION = "1.11.7"
GLASS_EASEL_VERSION = "0.12.1"
JSDOM_VERSION = "24.1.3"
CACHE = Path(os.environ.get("MINIBOX_NPM_CACHE", Path.home() / ".cache" / "minibox-npm"))
NPM_TIMEOUT = 300  # seconds for one npm install
# Folders of the package's miniprogram build that are not components.
NOT_COMPONENTS = frozenset({"common", "definitions", "mixins", "wxs"})


class NpmInstallError(RuntimeError):
    """npm could not install a pinned package."""


def npm_install(prefix: Path, packages: list[str]) -> Path:
    """Install `packages` (name@version) under `prefix` once; return its node_modules."""
    marker = prefix / ".installed.json"
    if marker.exists() and json.loads(marker.read_text()) == packages:
        return prefix / "node_modules"
    prefix.mkdir(parents=True, exist_ok=True)
    npm = shutil.which("npm")
    if npm is None:
        raise NpmInstallError("npm is not on PATH")
    proc = subprocess.run([npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--no-save", *packages],
                          capture_output=True, text=True, timeout=NPM_TIMEOUT, check=False)
    if proc.returncode != 0:
        raise NpmInstallError(f"npm install {' '.join(packages)} failed: {proc.stderr[-2000:]}")
    marker.write_text(json.dumps(packages))
    return prefix / "node_modules"


def vant_lib() -> Path:
    """The miniprogram build of @vant/weapp (package.json "miniprogram": "lib")."""
    nm = npm_install(CACHE / f"vant-{VANT_VERSION}", [f"@vant/weapp@{VANT_VERSION}"])
    pkg = nm / "@vant" / "weapp"
    build = json.loads((pkg / "package.json").read_text()).get("miniprogram", "dist")
    return pkg / build


def glass_easel_modules() -> Path:
    """node_modules with glass-easel, its mini-program adapter and template compiler, and jsdom."""
    return npm_install(CACHE / f"glass-easel-{GLASS_EASEL_VERSION}", [
        f"glass-easel@{GLASS_EASEL_VERSION}", f"glass-easel-miniprogram-adapter@{GLASS_EASEL_VERSION}",
        f"glass-easel-template-compiler@{GLASS_EASEL_VERSION}", f"jsdom@{JSDOM_VERSION}",
    ])


def vant_components(lib: Path) -> list[str]:
    """Every component folder of the package, by name."""
    return sorted(p.name for p in lib.iterdir()
                  if p.is_dir() and p.name not in NOT_COMPONENTS and (p / "index.json").exists())


def build_vant_project(dest: Path, pages: dict[str, str], using: dict[str, str] | None = None,
                       scripts: dict[str, str] | None = None) -> Path:
    """A project with the package in miniprogram_npm/@vant/weapp and one page per entry of `pages`
    (name -> WXML). `using` maps tags to package components ("van-cell": "cell"); default: each
    page uses `van-<name>`. `scripts` gives page JS by name (default `Page({})`)."""
    lib = vant_lib()
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(lib, dest / "miniprogram_npm" / "@vant" / "weapp")
    paths = []
    for name, wxml in pages.items():
        d = dest / "pages" / name
        d.mkdir(parents=True)
        tags = using if using is not None else {f"van-{name}": name}
        cfg = {"usingComponents": {tag: f"@vant/weapp/{comp}/index" for tag, comp in tags.items()}}
        (d / "index.json").write_text(json.dumps(cfg))
        (d / "index.wxml").write_text(wxml)
        (d / "index.js").write_text((scripts or {}).get(name, "Page({})"))
        paths.append(f"pages/{name}/index")
    (dest / "app.json").write_text(json.dumps({"pages": paths}))
    (dest / "app.js").write_text("App({})")
    return dest
