"""CLI commands of minibox.package: `minibox pack`, `minibox keys ...`, `minibox verify`."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from minibox.package.errors import PackageError
from minibox.package.keys import HostKeyPair, SigningKey, load_host_public
from minibox.package.pack import pack as pack_bundle
from minibox.package.trust import KEYSET_FILE, TrustStore, make_keyset, parse_keyset
from minibox.package.verify import verify_and_unpack

SIGNING_KEY_FILE = "signing-key.pem"
PUBLIC_KEY_FILE = "public-key.pem"
HOST_KEY_FILE = "host-key.pem"
HOST_PUBLIC_FILE = "host-public.hex"

err = Console(stderr=True, markup=False)
out = Console(markup=False)


def _password(env: str | None) -> bytes | None:
    if env is None:
        return None
    value = os.environ.get(env)
    if value is None:
        raise typer.BadParameter(f"environment variable {env} is not set")
    return value.encode()


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                    transient=True)


def _fail(exc: PackageError) -> typer.Exit:
    err.print(f"refused: {exc.rule} [{exc.entry}]: {exc.detail}", markup=False, highlight=False, soft_wrap=True,
              style="red")
    return typer.Exit(1)


def _fail_io(exc: OSError) -> typer.Exit:
    err.print(f"error: {exc.strerror or exc}: {exc.filename}", highlight=False, soft_wrap=True, style="red")
    return typer.Exit(2)


def _key_file(path: Path) -> Path:
    return path / SIGNING_KEY_FILE if path.is_dir() else path


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the `minibox` CLI."""
    keys = typer.Typer(help="Platform signing keys and host encryption keys.", no_args_is_help=True)
    app.add_typer(keys, name="keys")

    @app.command("pack")
    def pack_cmd(
        bundle_dir: Annotated[Path, typer.Argument(help="Compiled bundle directory")],
        app_id: Annotated[str, typer.Option("--app-id")],
        version: Annotated[str, typer.Option("--version")],
        build: Annotated[int, typer.Option("--build", help="Build number, only ever increases")],
        key: Annotated[Path, typer.Option("--key", help="Signing key file (or a key directory)")],
        output: Annotated[Path, typer.Option("-o", "--output")],
        recipient: Annotated[list[str] | None, typer.Option("--recipient", help="host_id=public-key-file")] = None,
        keyset: Annotated[list[Path] | None, typer.Option("--keyset", help="Key-set rotation to ship")] = None,
        expires_days: Annotated[int, typer.Option("--expires-days")] = 365,
        min_runtime: Annotated[str, typer.Option("--min-runtime")] = "0.1.0",
        password_env: Annotated[str | None, typer.Option("--password-env")] = None,
    ) -> None:
        """Pack a compiled bundle into a signed (and, with --recipient, encrypted) .mbx package."""
        try:
            with _progress() as progress:
                task = progress.add_task("loading keys", total=3)
                signer = SigningKey.load(_key_file(key), _password(password_env))
                recipients = {}
                for item in recipient or []:
                    host_id, sep, file = item.partition("=")
                    if not sep:
                        raise typer.BadParameter(f"--recipient expects host_id=file, got {item!r}")
                    recipients[host_id] = load_host_public(Path(file).read_bytes())
                progress.update(task, advance=1, description="packing, encrypting and signing")
                created = datetime.now(UTC).replace(microsecond=0)
                if "SOURCE_DATE_EPOCH" in os.environ:
                    created = datetime.fromtimestamp(int(os.environ["SOURCE_DATE_EPOCH"]), UTC)
                data = pack_bundle(bundle_dir, app_id=app_id, version=version, build=build, signer=signer,
                                   recipients=recipients or None, created_at=created,
                                   expires_at=created + timedelta(days=expires_days), min_runtime=min_runtime,
                                   keysets=[p.read_bytes() for p in keyset or []])
                progress.update(task, advance=1, description=f"writing {output}")
                output.write_bytes(data)
                progress.update(task, advance=1)
        except PackageError as exc:
            raise _fail(exc) from None
        except OSError as exc:
            raise _fail_io(exc) from None
        out.print(f"packed {app_id} {version} (build {build}) -> {output} ({len(data)} bytes, key {signer.key_id}"
                  f"{', encrypted for ' + ', '.join(sorted(recipients)) if recipients else ''})", highlight=False, soft_wrap=True)

    @keys.command("generate")
    def keys_generate(
        out_dir: Annotated[Path, typer.Argument(help="Directory for the new key (created)")],
        password_env: Annotated[str | None, typer.Option("--password-env")] = None,
        expires_days: Annotated[int | None, typer.Option("--expires-days")] = None,
    ) -> None:
        """Generate a platform signing key and its root key set (keyset.json, version 1)."""
        out_dir.mkdir(parents=True, exist_ok=True)
        key = SigningKey.generate()
        expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
        _write_private(out_dir / SIGNING_KEY_FILE, key.to_pem(_password(password_env)))
        (out_dir / PUBLIC_KEY_FILE).write_bytes(key.public_key_pem())
        (out_dir / KEYSET_FILE).write_bytes(make_keyset([key], signers=[key], expires_at=expires))
        out.print(f"key {key.key_id} -> {out_dir} (keyset.json v1 is the root of trust for hosts)", highlight=False, soft_wrap=True)

    @keys.command("rotate")
    def keys_rotate(
        old: Annotated[Path, typer.Argument(help="Old key directory (or key file)")],
        new_dir: Annotated[Path, typer.Argument(help="Directory for the new key (created)")],
        reset_builds: Annotated[bool, typer.Option("--reset-builds", help="Recover from a fast-forward")] = False,
        password_env: Annotated[str | None, typer.Option("--password-env")] = None,
    ) -> None:
        """Generate a new key and key set N+1, signed by the old key and the new one."""
        try:
            old_key = SigningKey.load(_key_file(old), _password(password_env))
            version = 1
            if old.is_dir() and (old / KEYSET_FILE).is_file():
                version = parse_keyset((old / KEYSET_FILE).read_bytes()).version
        except PackageError as exc:
            raise _fail(exc) from None
        except OSError as exc:
            raise _fail_io(exc) from None
        new_dir.mkdir(parents=True, exist_ok=True)
        new = SigningKey.generate()
        _write_private(new_dir / SIGNING_KEY_FILE, new.to_pem(_password(password_env)))
        (new_dir / PUBLIC_KEY_FILE).write_bytes(new.public_key_pem())
        (new_dir / KEYSET_FILE).write_bytes(
            make_keyset([new], version=version + 1, signers=[old_key, new], reset_builds=reset_builds))
        out.print(f"key {new.key_id} -> {new_dir}; keyset v{version + 1} signed by {old_key.key_id} "
                  f"(ship it with `minibox pack --keyset {new_dir / KEYSET_FILE}`)", highlight=False, soft_wrap=True)

    @keys.command("host")
    def keys_host(out_dir: Annotated[Path, typer.Argument(help="Directory for the host key pair")]) -> None:
        """Generate a host app's X25519 key pair (the platform registers the public half)."""
        out_dir.mkdir(parents=True, exist_ok=True)
        pair = HostKeyPair.generate()
        _write_private(out_dir / HOST_KEY_FILE, pair.private_pem())
        (out_dir / HOST_PUBLIC_FILE).write_text(pair.public_bytes().hex() + "\n")
        out.print(f"host key pair -> {out_dir} (public: {pair.public_bytes().hex()})", highlight=False, soft_wrap=True)

    @app.command("verify")
    def verify_cmd(
        package: Annotated[Path, typer.Argument(help=".mbx package")],
        trust: Annotated[Path, typer.Option("--trust", help="Trust directory (holds keyset.json)")],
        host_key: Annotated[Path | None, typer.Option("--host-key", help="Host private key (encrypted packages)")] = None,
        host_id: Annotated[str | None, typer.Option("--host-id")] = None,
        app_id: Annotated[str | None, typer.Option("--app-id")] = None,
        unpack_to: Annotated[Path | None, typer.Option("--out", help="Unpack here (default: check only)")] = None,
        record: Annotated[bool, typer.Option("--record", help="Persist the trusted build in --trust")] = False,
    ) -> None:
        """Run the full verification sequence on a package; exit 1 naming the rule that refused it."""
        if not (trust / KEYSET_FILE).is_file():
            raise _fail(PackageError("no-trust-root", str(trust), "no keyset.json in the trust directory"))
        with tempfile.TemporaryDirectory() as scratch:
            trust_dir = trust
            if not record:
                trust_dir = Path(scratch) / "trust"
                shutil.copytree(trust, trust_dir, ignore=shutil.ignore_patterns(".lock"))
            try:
                with _progress() as progress:
                    progress.add_task(f"verifying {package.name}", total=None)
                    host_private = HostKeyPair.load(host_key).private if host_key else None
                    result = verify_and_unpack(package.read_bytes(), trust=TrustStore(trust_dir), host_id=host_id,
                                               host_private_key=host_private, app_id=app_id,
                                               dest=unpack_to or Path(scratch) / "out")
            except PackageError as exc:
                raise _fail(exc) from None
            except OSError as exc:
                raise _fail_io(exc) from None
            m = result.manifest
            out.print(f"OK {m.app_id} {m.version} build {m.build}: signed by {result.key_id}, "
                      f"{len(m.entries())} files, parts {', '.join(result.parts)}, "
                      f"{'encrypted' if m.encrypted else 'not encrypted'}, expires {m.expires_at:%Y-%m-%d}",
                      highlight=False, soft_wrap=True)
            if unpack_to:
                out.print(f"unpacked to {unpack_to}", highlight=False, soft_wrap=True)
