"""CLI commands of minibox.view: `minibox dev`."""

from __future__ import annotations

import threading
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from minibox.view.devserver import CompileReport

console = Console()


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _report(report: CompileReport) -> None:
    if report.errors:
        console.print(f"[red]compile failed ({_plural(len(report.errors), 'error')}):[/red]")
    elif report.page_errors:
        console.print(f"[yellow]compiled with {_plural(len(report.page_errors), 'error')} (those files fail "
                      f"alone: their pages open as error pages)[/yellow]")
    else:
        console.print("[green]compiled[/green]" + (f" ({_plural(len(report.warnings), 'warning')})"
                                                    if report.warnings else ""))
    for line in [*report.errors, *report.page_errors, *report.warnings]:
        console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the `minibox` CLI."""

    @app.command()
    def dev(
        project: Path = typer.Argument(..., help="A mini-program project directory."),
        port: int = typer.Option(0, help="Port on 127.0.0.1 (0: a free one)."),
        device: str = typer.Option("iphone-se", help="Simulated device: iphone-se, iphone-14, pixel-7, ipad-mini."),
        open_browser: bool = typer.Option(True, "--open/--no-open", help="Open the simulator in a browser."),
        screenshot: Path | None = typer.Option(None, help="Save a PNG of every page into this folder, then exit."),
        page_query: list[str] = typer.Option([], help="A page's launch query for screenshots, as PAGE=QUERY, "
                                                     "e.g. pages/detail/detail=id=p2 (repeatable). Pages without "
                                                     "one take the query the app's own navigation passes them."),
        discover: bool = typer.Option(True, "--discover-queries/--no-discover-queries",
                                      help="For screenshots, learn pages' queries from the app's navigation "
                                           "(rendered <navigator> urls, taps) in a throwaway instance."),
        image_host: list[str] = typer.Option([], help="An https host images may load from (repeatable)."),
        webview_host: list[str] = typer.Option([], help="An https host a <web-view> may open (repeatable)."),
        watermark: str | None = typer.Option(None, help="Draw the host's watermark over every page, e.g. "
                                                        "'{user} {app} {date} {time}' (also {host})."),
    ) -> None:
        """Compile, run and show a mini-program in the browser simulator; reload on file change."""
        from minibox.view.devserver import DEVICES, DevServer, screenshot_pages
        from minibox.view.server import page_order

        if device not in DEVICES:
            raise typer.BadParameter(f"unknown device {device!r}; choose from {', '.join(DEVICES)}")
        if not project.is_dir():
            raise typer.BadParameter(f"{project} is not a directory")
        for h in [*image_host, *webview_host]:
            if not h or "/" in h or ":" in h:
                raise typer.BadParameter(f"{h!r} is not a host name (give e.g. img.example.com)")
        if watermark:
            from minibox.policy.watermark import WatermarkError, validate_template

            try:
                watermark = validate_template(watermark)
            except WatermarkError as e:
                raise typer.BadParameter(f"--watermark: {e}") from e
        server = DevServer(project, port=port, on_compile=_report, image_hosts=tuple(image_host),
                           webview_hosts=tuple(webview_host), watermark=watermark)
        with server:
            if screenshot is not None:
                if server.served.errors:
                    raise typer.Exit(1)
                pages = page_order(server.served.bundle())
                given = dict(q.split("=", 1) for q in page_query if "=" in q)
                given = {k.strip().lstrip("/"): v.lstrip("?") for k, v in given.items()}
                unknown = sorted(set(given) - set(pages))
                if unknown or len(given) != len(page_query):
                    raise typer.BadParameter(f"--page-query takes PAGE=QUERY for a page of the app: {page_query}")
                queries, sources = server.launch_queries(given, discover=discover)
                shots = screenshot_pages(server.url, pages, screenshot, device, queries=queries)
                for path, shot in zip(pages, shots, strict=True):
                    how = f"?{queries[path]} ({sources[path]})" if queries.get(path) else "without a query"
                    console.print(f"saved {shot}: {path} {how}", markup=False, highlight=False, soft_wrap=True)
                bare = [p for p in pages if not queries.get(p)]
                if bare:
                    console.print(f"opened without a query ({len(bare)}): {', '.join(bare)}", markup=False,
                                  soft_wrap=True, highlight=False)
                if server.served.page_errors:
                    raise typer.Exit(1)  # the shots are taken (broken pages as error pages), the build is not clean
                return
            url = f"{server.url}?device={device}"
            console.print(f"minibox dev: [bold]{url}[/bold] (Ctrl+C to stop)")
            if open_browser:
                webbrowser.open(url)
            stop = threading.Event()
            try:
                server.watch(stop)
            except KeyboardInterrupt:
                stop.set()
