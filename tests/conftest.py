"""Fixtures shared by every test folder."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def write_project(root: Path, files: dict[str, str | dict]) -> Path:
    """Write a mini-program project; a dict value is written as JSON. app.json gets a default."""
    root.mkdir(parents=True, exist_ok=True)
    pages = sorted({p.rsplit(".", 1)[0] for p in files if p.startswith("pages/") and p.endswith(".wxml")})
    files = {"app.json": {"pages": pages}, **files}
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(body) if isinstance(body, dict) else body, encoding="utf-8")
    for page in pages:
        js = root / f"{page}.js"
        if not js.exists():
            js.write_text("Page({})\n", encoding="utf-8")
    return root


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1000))

    def make(files: dict[str, str | dict], name: str | None = None) -> Path:
        return write_project(tmp_path / (name or f"app{next(counter)}"), files)

    return make
