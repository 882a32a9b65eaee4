"""Fixtures for component tests: the pinned @vant/weapp package, installed once and cached."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.components.vant import build_vant_project, vant_lib


@pytest.fixture(scope="session")
def vant_dir() -> Path:
    """The package's miniprogram build (npm install into ~/.cache/minibox-npm on first use)."""
    return vant_lib()


@pytest.fixture(scope="session")
def vant_project(vant_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Build a project using vant: vant_project({"page": "<van-cell/>"}, using={"van-cell": "cell"})."""
    counter = iter(range(1000))

    def make(pages: dict[str, str], using: dict[str, str] | None = None,
             scripts: dict[str, str] | None = None) -> Path:
        return build_vant_project(tmp_path_factory.mktemp(f"vant{next(counter)}") / "p", pages, using, scripts)

    return make
