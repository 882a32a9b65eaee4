"""`minibox telemetry prune`: drop raw telemetry events (and batch ids) past the retention."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from minibox.platform.commands import DataDir, DbUrl, _settings

telemetry_app = typer.Typer(help="Telemetry from hosts: retention.", no_args_is_help=True)


@telemetry_app.command("prune")
def prune(data_dir: DataDir = Path("minibox-data"), database_url: DbUrl = None,
          days: Annotated[int | None, typer.Option(min=1, help="Keep raw events this many days "
                                                   "(default MINIBOX_TELEMETRY_RETENTION_DAYS or 30).")] = None,
          rollup_days: Annotated[int, typer.Option(min=1, help="Keep rollups this many days.")] = 400) -> None:
    """Delete raw events and batch ids older than the retention, rollups older than --rollup-days.
    Ingestion also prunes by itself about once an hour per replica; run this from cron for a fixed time."""
    from minibox.platform.db import Database
    from minibox.platform.telemetry import service

    db = Database(_settings(data_dir, database_url).database_url)
    try:
        out = service.prune(db, days=days, rollup_days=rollup_days)
    finally:
        db.dispose()
    typer.echo(f"pruned {out['events']} raw events, {out['batches']} batch ids, {out['rollups']} rollup rows")
