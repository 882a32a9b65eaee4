"""`minibox pack`, `minibox keys generate|rotate|host`, `minibox verify` end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from minibox.package import TrustStore
from minibox.package.commands import register


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def run(cli: typer.Typer, *args: str, code: int = 0, env: dict | None = None) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], env=env)
    assert result.exit_code == code, result.output
    return result.output


def test_generate_pack_verify(cli, bundle_dir: Path, tmp_path: Path):
    keys = tmp_path / "keys"
    run(cli, "keys", "generate", keys)
    assert (keys / "signing-key.pem").stat().st_mode & 0o077 == 0
    run(cli, "keys", "host", tmp_path / "host")
    pkg = tmp_path / "app.mbx"
    out = run(cli, "pack", bundle_dir, "--app-id", "wxcli", "--version", "1.0.0", "--build", "3", "--key", keys,
              "--recipient", f"bank={tmp_path / 'host' / 'host-public.hex'}", "-o", pkg)
    assert "encrypted for bank" in out
    trust = tmp_path / "trust"
    TrustStore.create(trust, (keys / "keyset.json").read_bytes())
    refused = run(cli, "verify", pkg, "--trust", trust, code=1)
    assert "not-a-recipient" in refused
    out = run(cli, "verify", pkg, "--trust", trust, "--host-id", "bank", "--host-key",
              tmp_path / "host" / "host-key.pem", "--out", tmp_path / "unpacked")
    assert "OK wxcli 1.0.0 build 3" in out
    assert (tmp_path / "unpacked" / "logic.js").read_bytes() == (bundle_dir / "logic.js").read_bytes()
    assert TrustStore(trust).last_trusted("wxcli") is None  # check-only by default
    run(cli, "verify", pkg, "--trust", trust, "--host-id", "bank", "--host-key", tmp_path / "host" / "host-key.pem",
        "--record")
    assert TrustStore(trust).last_trusted("wxcli").build == 3


def test_pack_is_reproducible_with_source_date_epoch(cli, bundle_dir: Path, tmp_path: Path):
    run(cli, "keys", "generate", tmp_path / "k")
    env = {"SOURCE_DATE_EPOCH": "1790000000"}
    for name in ("a", "b"):
        run(cli, "pack", bundle_dir, "--app-id", "wxcli", "--version", "1", "--build", "1", "--key",
            tmp_path / "k" / "signing-key.pem", "-o", tmp_path / f"{name}.mbx", env=env)
    assert (tmp_path / "a.mbx").read_bytes() == (tmp_path / "b.mbx").read_bytes()


def test_rotate_and_ship_keyset(cli, bundle_dir: Path, tmp_path: Path):
    run(cli, "keys", "generate", tmp_path / "k1", "--password-env", "PW", env={"PW": "s3cret"})
    trust = tmp_path / "trust"
    TrustStore.create(trust, (tmp_path / "k1" / "keyset.json").read_bytes())
    run(cli, "keys", "rotate", tmp_path / "k1", tmp_path / "k2", "--password-env", "PW", env={"PW": "s3cret"})
    pkg = tmp_path / "p.mbx"
    run(cli, "pack", bundle_dir, "--app-id", "wxcli", "--version", "2", "--build", "2", "--key", tmp_path / "k2",
        "--password-env", "PW", "--keyset", tmp_path / "k2" / "keyset.json", "-o", pkg, env={"PW": "s3cret"})
    run(cli, "verify", pkg, "--trust", trust, "--record")
    assert TrustStore(trust).keyset_version == 2
    old = tmp_path / "old.mbx"
    run(cli, "pack", bundle_dir, "--app-id", "wxcli", "--version", "3", "--build", "3", "--key", tmp_path / "k1",
        "--password-env", "PW", "-o", old, env={"PW": "s3cret"})
    assert "untrusted-key" in run(cli, "verify", old, "--trust", trust, code=1)


def test_pack_refuses_hostile_bundle(cli, bundle_dir: Path, tmp_path: Path):
    run(cli, "keys", "generate", tmp_path / "k")
    (bundle_dir / "logic.qjsc").write_bytes(b"\x02bytecode")
    out = run(cli, "pack", bundle_dir, "--app-id", "wxcli", "--version", "1", "--build", "1", "--key",
              tmp_path / "k", "-o", tmp_path / "x.mbx", code=1)
    assert "bytecode-file" in out and "logic.qjsc" in out
    assert not (tmp_path / "x.mbx").exists()


def test_clear_errors_for_missing_files(cli, bundle_dir: Path, tmp_path: Path):
    out = run(cli, "pack", bundle_dir, "--app-id", "wxcli", "--version", "1", "--build", "1", "--key",
              tmp_path / "nokey.pem", "-o", tmp_path / "x.mbx", code=2)
    assert "nokey.pem" in out
    assert "no-trust-root" in run(cli, "verify", tmp_path / "x.mbx", "--trust", tmp_path / "none", code=1)
