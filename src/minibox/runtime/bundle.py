"""A compiled bundle as the runtime loads it (docs/internals.md §1)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any


class BundleError(Exception):
    """The bundle directory is missing a part or its bundle.json is invalid."""


@dataclass(frozen=True)
class LoadedBundle:
    root: Path
    config: dict[str, Any]
    logic_js: str
    render_js: str

    @classmethod
    def from_dir(cls, root: Path | str) -> LoadedBundle:
        root = Path(root)
        try:
            config = json.loads((root / "bundle.json").read_text("utf-8"))
            logic = (root / "logic.js").read_text("utf-8")
            render = (root / "render.js").read_text("utf-8")
        except FileNotFoundError as exc:
            raise BundleError(f"{root}: missing {Path(exc.filename).name}") from None
        except ValueError as exc:
            raise BundleError(f"{root / 'bundle.json'}: {exc}") from None
        for key in ("app", "pages", "entryPage"):
            if key not in config:
                raise BundleError(f"{root / 'bundle.json'}: missing key {key!r}")
        config.setdefault("components", {})
        return cls(root=root, config=config, logic_js=logic, render_js=render)

    @property
    def app_config(self) -> dict[str, Any]:
        return self.config["app"]

    def page_paths(self) -> list[str]:
        return list(self.config["pages"])

    def style(self, path: str) -> str | None:
        f = self.root / "styles" / f"{path}.css"
        return f.read_text("utf-8") if f.is_file() else None


@cache
def framework_sources() -> tuple[tuple[str, str], ...]:
    """The framework's JS files, in load order, as (name, text)."""
    pkg = resources.files("minibox.runtime") / "framework"
    names = sorted(p.name for p in pkg.iterdir() if p.name.endswith(".js"))
    return tuple((f"framework/{n}", (pkg / n).read_text("utf-8")) for n in names)
