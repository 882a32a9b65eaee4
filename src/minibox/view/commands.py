"""CLI commands of minibox.view: `minibox dev`."""

from __future__ import annotations

import threading
import webbrowser
from pathlib import Path

import typer
from rich.console import Console

console = Console()


def _report(errors: list[str]) -> None:
    if errors:
        console.print(f"[red]compile failed ({len(errors)} error{'s' if len(errors) != 1 else ''}):[/red]")
        for line in errors:
            console.print(f"  {line}", markup=False, highlight=False)
    else:
        console.print("[green]compiled[/green]")


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
                                                     "e.g. pages/detail/detail=id=p2 (repeatable)."),
        image_host: list[str] = typer.Option([], help="An https host images may load from (repeatable)."),
        webview_host: list[str] = typer.Option([], help="An https host a <web-view> may open (repeatable)."),
        watermark: str | None = typer.Option(None, help="Draw the host's watermark over every page, e.g. "
                                                        "'{user} {app} {date}'."),
    ) -> None:
        """Compile, run and show a mini-program in the browser simulator; reload on file change."""
        from minibox.view.devserver import DEVICES, DevServer, screenshot_pages

        if device not in DEVICES:
            raise typer.BadParameter(f"unknown device {device!r}; choose from {', '.join(DEVICES)}")
        if not project.is_dir():
            raise typer.BadParameter(f"{project} is not a directory")
        for h in [*image_host, *webview_host]:
            if not h or "/" in h or ":" in h:
                raise typer.BadParameter(f"{h!r} is not a host name (give e.g. img.example.com)")
        server = DevServer(project, port=port, on_compile=_report, image_hosts=tuple(image_host),
                           webview_hosts=tuple(webview_host), watermark=watermark)
        with server:
            if screenshot is not None:
                if server.served.errors:
                    raise typer.Exit(1)
                pages = server.served.bundle().page_paths()
                queries = dict(q.split("=", 1) for q in page_query if "=" in q)
                unknown = sorted(set(queries) - set(pages))
                if unknown or len(queries) != len(page_query):
                    raise typer.BadParameter(f"--page-query takes PAGE=QUERY for a page of the app: {page_query}")
                for shot in screenshot_pages(server.url, pages, screenshot, device, queries=queries):
                    console.print(f"saved {shot}")
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
