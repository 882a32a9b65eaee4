"""@vant/weapp (pinned, from npm, unmodified): every component loads, and renders as glass-easel does."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from minibox.testing import launch
from tests.components.vant import vant_components

ROOT = Path(__file__).resolve().parents[2]


def _harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("conformance_vant", ROOT / "bench" / "conformance_vant.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("conformance_vant", module)
    spec.loader.exec_module(module)
    return module


def test_every_component_loads_with_default_props(vant_dir: Path, vant_project) -> None:
    names = vant_components(vant_dir)
    assert len(names) >= 60  # the package's dist has ~68 components
    project = vant_project({n: f"<van-{n} id='it'/>" for n in names})
    with launch(project, path=f"pages/{names[0]}/index") as mp:
        for name in names:
            before = len(mp.errors)
            assert mp.relaunch(f"/pages/{name}/index")["errMsg"] == "reLaunch:ok"
            mp.advance(1000)
            assert mp.errors[before:] == [], name
            host = mp.current_page.query_selector("#it")
            assert host is not None and host.tag == f"van-{name}"
            assert host.data is not None  # a live component instance behind the tag


def test_conformance_with_glass_easel(capsys: pytest.CaptureFixture[str]) -> None:
    assert shutil.which("node"), "the reference (glass-easel) runs on Node"
    harness = _harness()
    code = harness.main([])
    out = capsys.readouterr().out
    total = [line for line in out.splitlines() if line.startswith("TOTAL")]
    assert total, out
    assert code == 0, "\n".join(line for line in out.splitlines() if not line.startswith("SAME"))
