"""The `minibox` command line: each area of minibox registers its own commands."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="minibox",
    help="Build, run, test, package and govern WeChat mini-programs in a private sandbox.",
    no_args_is_help=True,
    add_completion=False,
)

#: Modules that contribute commands through `register(app)`, in help order.
COMMAND_MODULES = (
    "minibox.compiler.commands",   # new, build
    "minibox.runtime.commands",    # run, test
    "minibox.view.commands",       # dev
    "minibox.package.commands",    # pack, keys, verify
    "minibox.platform.commands",   # server, demo, audit, publish
)


@app.command()
def version() -> None:
    """Print minibox's version."""
    from minibox import __version__

    typer.echo(__version__)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)


_register_all()


def main() -> None:
    app()
