"""A compiled bundle as the runtime loads it (docs/internals.md §1)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
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
    #: the bundle's files in memory (a verified package's), else None: styles are read from `root`
    files: Mapping[str, bytes] | None = field(default=None, repr=False, compare=False)

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
        return cls._checked(root, config, logic, render, None)

    @classmethod
    def from_files(cls, root: Path | str, files: Mapping[str, bytes]) -> LoadedBundle:
        """The bundle from its files in memory (`root` is where its assets live on disk)."""
        root = Path(root)
        try:
            config = json.loads(files["bundle.json"])
            logic = files["logic.js"].decode("utf-8")
            render = files["render.js"].decode("utf-8")
        except KeyError as exc:
            raise BundleError(f"{root}: missing {exc.args[0]}") from None
        except ValueError as exc:
            raise BundleError(f"{root / 'bundle.json'}: {exc}") from None
        return cls._checked(root, config, logic, render, files)

    @classmethod
    def from_package(cls, package: Any) -> LoadedBundle:
        """A verified package's bundle (`minibox.package.VerifiedPackage`), from the verified bytes
        in memory: nothing the runtime runs is read back from the unpacked tree."""
        if package.path is None:
            raise BundleError(f"{package.app_id}: the package was not unpacked (its assets have no directory)")
        # the assets are read from the tree (they may be large): the bundle keeps the rest
        return cls.from_files(package.path, {k: v for k, v in package.files.items() if not k.startswith("assets/")})

    @classmethod
    def _checked(cls, root: Path, config: Any, logic: str, render: str,
                 files: Mapping[str, bytes] | None) -> LoadedBundle:
        if not isinstance(config, dict):
            raise BundleError(f"{root / 'bundle.json'}: not an object")
        for key in ("app", "pages", "entryPage"):
            if key not in config:
                raise BundleError(f"{root / 'bundle.json'}: missing key {key!r}")
        config.setdefault("components", {})
        return cls(root=root, config=config, logic_js=logic, render_js=render, files=files)

    @property
    def app_config(self) -> dict[str, Any]:
        return self.config["app"]

    def page_paths(self) -> list[str]:
        return list(self.config["pages"])

    def style(self, path: str) -> str | None:
        if self.files is not None:
            css = self.files.get(f"styles/{path}.css")
            return css.decode("utf-8") if css is not None else None
        f = self.root / "styles" / f"{path}.css"
        return f.read_text("utf-8") if f.is_file() else None


@cache
def framework_sources() -> tuple[tuple[str, str], ...]:
    """The framework's JS files, in load order, as (name, text)."""
    pkg = resources.files("minibox.runtime") / "framework"
    names = sorted(p.name for p in pkg.iterdir() if p.name.endswith(".js"))
    return tuple((f"framework/{n}", (pkg / n).read_text("utf-8")) for n in names)
