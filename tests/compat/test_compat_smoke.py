"""The open compatibility suite (bench/compat.py), small: two pinned libraries from the npm registry,
a handful of their components, each mounted alone with default props in minibox.

The full suite (nine packages, WeChat's simulator beside minibox) is `python bench/compat.py`. This test
fetches with `npm pack` into the cache (MINIBOX_NPM_CACHE); when the registry cannot be reached it
skips locally, and fails in CI (CI=true), where a skipped compatibility check would hide a regression.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _compat():
    spec = importlib.util.spec_from_file_location("minibox_bench_compat", ROOT / "bench" / "compat.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


compat = _compat()

# library -> components that must render (the smoke set; the suite measures all of them)
SMOKE = {
    "vant": ["button/index", "cell/index", "icon/index", "tag/index", "loading/index"],
    "weui": ["badge/badge", "loading/loading", "slideview/slideview", "navigation-bar/navigation-bar"],
}


@pytest.fixture(scope="module")
def fetched() -> dict[str, Path]:
    out = {}
    try:
        for name in SMOKE:
            pkg = compat.BY_NAME[name]
            out[name] = compat.fetch(pkg) / pkg.root
    except compat.FetchError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"compatibility suite: cannot fetch a pinned package in CI: {exc}")
        pytest.skip(f"npm registry not reachable: {exc}")
    return out


def test_pins_are_exact_and_permissive() -> None:
    assert len(compat.PACKAGES) >= 6
    for pkg in compat.PACKAGES:
        assert pkg.version.count(".") == 2 and pkg.version[0].isdigit(), pkg
        assert pkg.integrity.startswith("sha512-"), pkg
        assert pkg.license in {"MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "0BSD"}, pkg
        for _npm, version, integrity in pkg.extras:
            assert version[0].isdigit() and integrity.startswith("sha512-")


@pytest.mark.parametrize("name", sorted(SMOKE))
def test_components_render_alone(name: str, fetched: dict[str, Path], tmp_path: Path) -> None:
    pkg = compat.BY_NAME[name]
    build = fetched[name]
    every = compat.components(build)
    assert set(SMOKE[name]) <= set(every), sorted(set(SMOKE[name]) - set(every))
    res = compat.run_library(pkg, tmp_path, limit=SMOKE[name], peer=None)
    assert res.total == len(SMOKE[name])
    assert res.compiled, compat.failures_report([res])
    assert sorted(res.ok) == sorted(SMOKE[name]), compat.failures_report([res])
    table = compat.table([res])
    assert f"{len(SMOKE[name])}/{len(SMOKE[name])}" in table


def test_closure_holds_what_a_component_reaches(fetched: dict[str, Path]) -> None:
    build = fetched["vant"]
    files = {p.relative_to(build.resolve()).as_posix() for p in compat.closure(build, "button/index")}
    # its own four files, the component it uses, the JS it requires, the WXS its template loads
    assert {"button/index.js", "button/index.json", "button/index.wxml", "button/index.wxss"} <= files
    assert "loading/index.js" in files and "common/component.js" in files
    assert any(f.startswith("wxs/") for f in files)
    assert "cell/index.js" not in files


def test_failures_are_grouped_by_cause() -> None:
    F = compat.Failure
    fails = [
        F("a", "compile", "x/a.wxml:1:2", "duplicate attribute 'mode'", "wxml"),
        F("b", "open", "x/b.js:3", "not a function"),
        F("c", "open", "x/c.js:1", "helper is not defined"),
    ]
    causes = [f.cause for f in fails]
    assert causes[0].startswith("compiler") and "not a function" in causes[1] and "not defined" in causes[2]
