"""`minibox demo --smoke`: one command seeds the platform, releases an example, checks itself over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from minibox.platform.serve import free_port

from .conftest import World, write_project


def test_demo_smoke(tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    write_project(examples / "hello", title="demo")
    data = tmp_path / "demo-data"
    cmd = [str(Path(sys.executable).with_name("minibox")), "demo", "--smoke", "--port", str(free_port()), "--data-dir",
           str(data), "--examples", str(examples)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    assert "smoke: ok" in out and "Released app: demo-hello 1.0.0" in out
    for role in ("admin", "developer", "reviewer", "operator", "auditor"):
        assert f"  {role} " in out
    state = json.loads((data / "demo.json").read_text())
    assert state["users"]["admin"]["totp_secret"] and state["users"]["developer"]["totp_secret"] is None
    assert (data / "demo.json").stat().st_mode & 0o077 == 0
    # a second run reuses the seeded data
    cmd[cmd.index("--port") + 1] = str(free_port())
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert again.returncode == 0 and "smoke: ok" in again.stdout, again.stdout + again.stderr


def test_publish_from_ci_with_a_scoped_token(world: World, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from minibox.cli import app as cli
    from minibox.platform.apps import service as apps
    from minibox.platform.context import Ctx

    from .conftest import auth

    with world.platform.db.write() as s:
        ctx = Ctx(s, world.platform, world.a.users["admin"])
        apps.create_app(ctx, "ci-app", "CI")
        apps.add_member(ctx, "ci-app", world.a.users["developer"].user_id)
    token = world.client.post("/api/v1/tokens", headers=auth(world.a, "developer"),
                              json={"name": "ci", "scopes": ["versions:upload", "versions:submit"]}).json()["token"]
    src = write_project(tmp_path / "ci", title="ci")
    args = ["publish", str(src), "--app", "ci-app", "--version", "1.0.0", "--server", world.server.url,
            "--token", token, "--submit"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "checks passed" in result.output and "submitted for review" in result.output
    (src / "pages/index/index.wxml").write_text("<view>{{</view>")
    args[args.index("1.0.0")] = "1.0.1"
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and "pages/index/index.wxml:1:" in result.output
