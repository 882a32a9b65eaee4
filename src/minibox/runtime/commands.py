"""CLI commands of minibox.runtime: run a mini-program headlessly, smoke-test every page."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress

from minibox.runtime.errors import RuntimeFault

console = Console()


def _print_tree(node, depth: int = 0, limit: int = 200) -> int:
    """Print a headless tree; returns how many lines were printed."""
    printed = 0
    for child in node.children:
        if printed >= limit:
            break
        if child.tag == "#text":
            text = child.text.strip()
            if text:
                console.print("  " * depth + json.dumps(text, ensure_ascii=False))
                printed += 1
            continue
        cls = f".{'.'.join(child.classes)}" if child.class_name else ""
        console.print("  " * depth + f"<{child.tag}{cls}>")
        printed += 1 + _print_tree(child, depth + 1, limit - printed - 1)
    return printed


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        project: Path = typer.Argument(..., help="A mini-program project or a compiled bundle directory."),
        page: str | None = typer.Option(None, help="Page path to open instead of the entry page."),
        query: str = typer.Option("", help="Launch query string, e.g. 'id=3'."),
    ) -> None:
        """Run a mini-program headlessly and print its first page's tree, logs and errors."""
        from minibox.testing import launch

        try:
            with launch(project, path=page, query=query, virtual_time=True) as mp:
                current = mp.current_page
                console.print(f"[bold]{current.path}[/bold] {current.query or ''}")
                _print_tree(mp.view.pages[current.id].root)
                for entry in mp.logs:
                    console.print(f"[dim]console.{entry['level']}:[/dim] {' '.join(entry['args'])}")
                for err in mp.errors:
                    console.print(f"[red]error:[/red] {err['message']}")
        except RuntimeFault as exc:
            console.print(f"[red]{type(exc).__name__}:[/red] {exc}")
            raise typer.Exit(1) from None

    @app.command("test")
    def test_cmd(
        project: Path = typer.Argument(..., help="A mini-program project directory."),
        pytest_args: list[str] = typer.Argument(None, help="Extra arguments for pytest."),
    ) -> None:
        """Open every page of a project headlessly (errors fail), then run its tests/ with pytest."""
        from minibox.compiler import CompileErrors
        from minibox.testing import launch

        failures = 0
        try:
            with launch(project) as mp:
                pages = list(mp.instance.bundle.config["pages"])
                with Progress(console=console, transient=True) as progress:
                    task = progress.add_task("opening pages", total=len(pages))
                    for path in pages:
                        before = len(mp.errors)
                        result = mp.relaunch("/" + path)
                        errors = mp.errors[before:]
                        ok = result.get("errMsg") == "reLaunch:ok" and not errors
                        failures += not ok
                        mark = "[green]ok[/green]" if ok else "[red]FAIL[/red]"
                        console.print(f"{mark} {path}" + "".join(f"\n    {e['message']}" for e in errors))
                        progress.advance(task)
        except CompileErrors as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
        except RuntimeFault as exc:
            console.print(f"[red]{type(exc).__name__}:[/red] {exc}")
            raise typer.Exit(1) from None
        tests_dir = project / "tests"
        if tests_dir.is_dir():
            import pytest

            code = pytest.main([str(tests_dir), *(pytest_args or [])])
            failures += int(code != 0)
        raise typer.Exit(1 if failures else 0)
