"""CLI commands of minibox.compiler: `minibox build` and `minibox new`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from .bundle import compile_project
from .errors import CompileError, CompileErrors

STARTER_FILES: dict[str, str] = {
    "project.config.json": json.dumps(
        {
            "miniprogramRoot": "miniprogram/",
            "compileType": "miniprogram",
            "appid": "touristappid",
            "projectname": "{name}",
        },
        indent=2,
    )
    + "\n",
    "miniprogram/app.json": json.dumps(
        {"pages": ["pages/index/index"], "window": {"navigationBarTitleText": "{name}"}}, indent=2
    )
    + "\n",
    "miniprogram/app.js": "App({\n  onLaunch() {\n    this.globalData.launchedAt = Date.now()\n  },\n  globalData: {}\n})\n",
    "miniprogram/app.wxss": ".container {\n  padding: 32rpx;\n}\n",
    "miniprogram/pages/index/index.json": json.dumps({"usingComponents": {}}, indent=2) + "\n",
    "miniprogram/pages/index/index.wxml": (
        '<view class="container">\n'
        '  <text class="title">{{title}}</text>\n'
        '  <view wx:for="{{items}}" wx:key="id" class="item" data-id="{{item.id}}" bindtap="onTapItem">\n'
        "    {{item.name}}\n"
        "  </view>\n"
        "</view>\n"
    ),
    "miniprogram/pages/index/index.wxss": ".title {\n  font-size: 40rpx;\n}\n.item {\n  padding: 16rpx 0;\n}\n",
    "miniprogram/pages/index/index.js": (
        "Page({\n"
        "  data: {\n"
        "    title: 'Hello {name}',\n"
        "    items: [{ id: 1, name: 'First' }, { id: 2, name: 'Second' }]\n"
        "  },\n"
        "  onTapItem(e) {\n"
        "    wx.showToast({ title: 'Item ' + e.currentTarget.dataset.id })\n"
        "  }\n"
        "})\n"
    ),
}


def new_project(target: Path, name: str) -> list[Path]:
    """Write the starter project into `target` (which must not exist or be empty)."""
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} exists and is not empty")
    written = []
    for rel, text in STARTER_FILES.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("{name}", name), "utf-8")
        written.append(path)
    return written


def report_findings(errors: list[CompileError], warnings: list[CompileError]) -> None:
    """Print warnings, then errors, each as file:line:col, and a count of both."""
    for w in warnings:
        typer.echo(str(w), err=True)
    for e in errors:
        typer.echo(str(e), err=True)
    if errors or warnings:
        typer.echo(f"{len(errors)} error(s), {len(warnings)} warning(s)", err=True)


def maps_path(bundle_dir: Path) -> Path:
    """Where `minibox build --protect` writes the private source maps: beside the bundle, outside it."""
    return bundle_dir.parent / f"{bundle_dir.name}.sourcemap.json"


def protect_built(bundle_dir: Path, console: Console) -> None:
    """Protect a written bundle in place and write its maps (compiler/protect.py)."""
    from .protect import protect_bundle

    with Progress(TextColumn("{task.description}"), BarColumn(), console=console, transient=True) as bar:
        task = bar.add_task("protecting", total=None)

        def progress(what: str, i: int, n: int) -> None:
            bar.update(task, description=what[:60], completed=i, total=n)

        protection, doc = protect_bundle(bundle_dir, progress=progress)
    target = maps_path(bundle_dir)
    target.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), "utf-8")
    target.chmod(0o600)
    for w in protection.warnings:
        typer.echo(str(w), err=True)
    typer.echo(
        f"protected {protection.protected} of {protection.modules} JS modules "
        f"(logic.js {protection.bytes_before:,} -> {protection.bytes_after:,} bytes, {protection.seconds:.1f} s); "
        f"source maps: {target} (keep them private: they undo the protection)"
    )


def register(app: typer.Typer) -> None:
    """Add this area's commands to the `minibox` CLI."""

    @app.command()
    def build(
        src: Annotated[
            Path, typer.Argument(help="Project directory (with project.config.json or app.json).")
        ],
        out: Annotated[
            Path | None, typer.Option("-o", "--out", help="Bundle directory (default: SRC/../NAME-dist).")
        ] = None,
        protect: Annotated[
            bool,
            typer.Option(
                "--protect",
                help="Code protection: minify logic.js with local names mangled; the private source maps "
                "go to OUT.sourcemap.json beside the bundle, never into it.",
            ),
        ] = False,
    ) -> None:
        """Compile a mini-program into a bundle directory."""
        console = Console(stderr=True)
        target = out or src.resolve().parent / f"{src.resolve().name}-dist"
        with Progress(TextColumn("{task.description}"), BarColumn(), console=console, transient=True) as bar:
            task = bar.add_task("compiling", total=None)

            def progress(what: str, i: int, n: int) -> None:
                bar.update(task, description=what[:60], completed=i, total=n)

            try:
                bundle = compile_project(src, target, progress)
            except CompileErrors as errs:
                bar.stop()
                report_findings(errs.errors, errs.warnings)
                typer.echo(f"{len(errs)} error(s) in the app's own files; nothing written", err=True)
                raise typer.Exit(1) from None
        report_findings(bundle.errors, bundle.warnings)
        n_pages = len(bundle.config["pages"])
        n_comp = len(bundle.config["components"])
        typer.echo(f"built {target} ({n_pages} pages, {n_comp} components, {len(bundle.files)} files)")
        if protect:
            protect_built(target, console)
        broken = bundle.broken
        if broken:
            typer.echo(
                f"{len(bundle.errors)} error(s): these open as error pages or empty components: "
                + ", ".join(sorted(broken)),
                err=True,
            )
            raise typer.Exit(1)

    @app.command()
    def new(name: Annotated[str, typer.Argument(help="Directory of the new project.")]) -> None:
        """Create a small starter mini-program."""
        target = Path(name)
        try:
            files = new_project(target, target.name)
        except FileExistsError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
        typer.echo(f"created {target} ({len(files)} files); next: minibox build {target}")
