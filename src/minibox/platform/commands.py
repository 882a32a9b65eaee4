"""CLI commands of minibox.platform: server, demo, audit (verify, export, checkpoint), org, publish."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from minibox.platform.settings import ENV_DATA_DIR, ENV_DATABASE_URL, Settings

DEFAULT_PORT = 8700
DataDir = Annotated[Path, typer.Option("--data-dir", envvar=ENV_DATA_DIR, help="Keys, blobs and the SQLite file.")]
DbUrl = Annotated[str | None, typer.Option("--database-url", envvar=ENV_DATABASE_URL,
                                           help="SQLAlchemy URL; default SQLite in the data dir.")]

audit_app = typer.Typer(help="Verify and export the audit log.", no_args_is_help=True)
org_app = typer.Typer(help="Organisations and their first admin.", no_args_is_help=True)


def _settings(data_dir: Path, database_url: str | None, *, secure_cookies: bool = True) -> Settings:
    return Settings.for_data_dir(data_dir, database_url, secure_cookies=secure_cookies)


def server(data_dir: DataDir = Path("minibox-data"), database_url: DbUrl = None,
           host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
           port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
           insecure_cookies: Annotated[bool, typer.Option(help="Session cookie without Secure (plain HTTP).")] = False,
           workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes (about one per core); "
                                                "each is a replica with its own release snapshot.")] = 1,
           access_log: Annotated[bool, typer.Option(help="Log every request (costs throughput on the update "
                                                    "check; a TLS proxy in front usually logs them).")] = False,
           blobs: Annotated[str, typer.Option(envvar="MINIBOX_BLOBS", help="Blob store: a directory or "
                                              "s3://bucket/prefix (MINIBOX_S3_ENDPOINT_URL, AWS_* credentials); "
                                              "default the data dir's blobs/.")] = "",
           redis_url: Annotated[str, typer.Option(envvar="MINIBOX_REDIS_URL", help="Optional Redis for shared "
                                                  "login throttling and release signals.")] = "",
           forwarded_allow_ips: Annotated[str, typer.Option(envvar="MINIBOX_FORWARDED_ALLOW_IPS", help="Reverse "
                                                            "proxies whose X-Forwarded-For/-Proto are trusted "
                                                            "(comma-separated IPs); default none.")] = "",
           ) -> None:
    """Run the management platform (FastAPI on uvicorn); replicas may share one PostgreSQL."""
    import uvicorn

    from minibox.platform.server import build_app, open_platform
    from minibox.platform.settings import ENV_BLOBS, ENV_REDIS_URL, ENV_SECURE_COOKIES

    settings = Settings.for_data_dir(data_dir, database_url, secure_cookies=not insecure_cookies, blobs_url=blobs,
                                     redis_url=redis_url)
    # behind a reverse proxy, the client address (login throttling, audit) comes from X-Forwarded-For,
    # trusted only from the proxies named here
    proxy: dict[str, object] = {"proxy_headers": bool(forwarded_allow_ips)}
    if forwarded_allow_ips:
        proxy["forwarded_allow_ips"] = forwarded_allow_ips
    typer.echo(f"minibox platform on http://{host}:{port} (docs at /docs), {workers} worker(s)")
    if workers == 1:
        uvicorn.run(build_app(settings), host=host, port=port, log_level="info", access_log=access_log,
                    **proxy)
        return
    # migrate and create the keys once, then let each worker build its replica from the environment
    open_platform(settings).db.dispose()
    os.environ.update({ENV_DATA_DIR: str(settings.data_dir), ENV_DATABASE_URL: settings.database_url,
                       ENV_SECURE_COOKIES: "0" if insecure_cookies else "1", ENV_BLOBS: settings.blobs_url,
                       ENV_REDIS_URL: settings.redis_url})
    uvicorn.run("minibox.platform.server:app_from_env", factory=True, workers=workers, host=host, port=port,
                log_level="info", access_log=access_log, **proxy)


def demo(port: Annotated[int, typer.Option(help="Port to listen on (127.0.0.1).")] = DEFAULT_PORT,
         data_dir: Annotated[Path, typer.Option("--data-dir", help="Where the demo keeps its state.")] = Path(
             "minibox-demo"),
         examples: Annotated[Path, typer.Option(help="Example mini-programs to release.")] = Path("examples"),
         smoke: Annotated[bool, typer.Option("--smoke", help="Start, check over HTTP, exit 0.")] = False) -> None:
    """Set up and run the demo platform: an org, a user per role, a host app and a released example."""
    import httpx
    from rich.console import Console

    from minibox.platform.api import create_app
    from minibox.platform.demo import describe, seed
    from minibox.platform.serve import BackgroundServer
    from minibox.platform.server import open_platform

    console = Console()
    with console.status("setting up the demo platform (migrations, keys, seed data)..."):
        platform = open_platform(_settings(data_dir, None, secure_cookies=False))
        state = seed(platform, examples)
    app = create_app(platform)
    srv = BackgroundServer(app, port=port).start()
    typer.echo(describe(state, srv.url))
    if smoke:
        try:
            with httpx.Client(base_url=srv.url, timeout=30) as c:
                assert c.get("/api/v1/health").json() == {"status": "ok"}
                # the developer logs in (password only; TOTP codes are single-use, so the smoke
                # leaves the TOTP roles' codes to the person trying the demo)
                dev = state.users["developer"]
                r = c.post("/api/v1/auth/login", json={"username": dev["username"], "password": dev["password"]})
                if r.status_code != 200:
                    raise SystemExit(f"smoke: login failed: {r.status_code} {r.text}")
                token = r.json()["session_token"]
                apps = c.get("/api/v1/apps", headers={"Authorization": f"Bearer {token}"})
                assert apps.status_code == 200, apps.text
                if state.app:
                    assert state.app["app_id"] in {a["app_id"] for a in apps.json()}, apps.text
                if state.app:
                    h = {"X-Minibox-Host-Key": state.host["api_key"]}
                    u = c.get(f"/api/v1/hosts/{state.host['host_id']}/apps/{state.app['app_id']}/update",
                              params={"user_id": "smoke-user"}, headers=h)
                    assert u.status_code == 200, u.text
                    pkg = c.get(u.json()["package"]["url"], headers=h)
                    assert hashlib.sha256(pkg.content).hexdigest() == u.json()["package"]["sha256"]
            console.print("smoke: ok")
        finally:
            srv.stop()
        return
    try:
        srv.thread.join()
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        srv.stop()


@audit_app.command("verify")
def audit_verify(data_dir: DataDir = Path("minibox-data"), database_url: DbUrl = None,
                 public_key: Annotated[Path | None, typer.Option(help="Audit public key PEM (default: data dir).")]
                 = None,
                 checkpoints: Annotated[Path | None, typer.Option(help="External checkpoint copies (JSON lines).")]
                 = None) -> None:
    """Check the hash chain and signed checkpoints; exit 1 naming the first bad entry."""
    from minibox.platform.audit.service import verify
    from minibox.platform.db import Database
    from minibox.platform.keys import AUDIT_PUBLIC_KEY_FILE, load_audit_public_key

    settings = _settings(data_dir, database_url)
    pub = load_audit_public_key(public_key or settings.key_dir / AUDIT_PUBLIC_KEY_FILE)
    external = [json.loads(line) for line in checkpoints.read_text().splitlines() if line.strip()] \
        if checkpoints else None
    db = Database(settings.database_url)
    try:
        with db.read() as s:
            result = verify(s, pub, external)
    finally:
        db.dispose()
    if result.ok:
        typer.echo(f"audit log ok: {result.entries} entries, {result.checkpoints} signed statements")
        return
    typer.echo(f"audit log TAMPERED: first bad entry {result.first_bad_seq}", err=True)
    for p in result.problems:
        typer.echo(f"  {p}", err=True)
    raise typer.Exit(1)


@audit_app.command("export")
def audit_export(data_dir: DataDir = Path("minibox-data"), database_url: DbUrl = None,
                 out: Annotated[Path | None, typer.Option(help="Output file (default: stdout).")] = None) -> None:
    """Export the whole audit log as JSON lines."""
    from minibox.platform.audit.service import export_lines
    from minibox.platform.db import Database

    db = Database(_settings(data_dir, database_url).database_url)
    try:
        with db.read() as s:
            target = out.open("w", encoding="utf-8") if out else sys.stdout
            try:
                for line in export_lines(s):
                    target.write(line)
            finally:
                if out:
                    target.close()
    finally:
        db.dispose()


@audit_app.command("checkpoint")
def audit_checkpoint(data_dir: DataDir = Path("minibox-data"), database_url: DbUrl = None,
                     copy_to: Annotated[Path | None, typer.Option(help="Also append it to this JSON-lines file.")]
                     = None) -> None:
    """Store a signed checkpoint of the audit head now (run it from cron; keep copies elsewhere)."""
    from minibox.platform.audit.service import checkpoint
    from minibox.platform.server import open_platform

    platform = open_platform(_settings(data_dir, database_url), migrate=False)
    with platform.db.write() as s:
        cp = checkpoint(s, platform.audit_key)
    platform.db.dispose()
    line = json.dumps(cp, sort_keys=True)
    if copy_to:
        with copy_to.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
    typer.echo(line)


@org_app.command("create")
def org_create(name: Annotated[str, typer.Argument(help="Organisation name.")],
               admin: Annotated[str, typer.Option(help="Username of its first admin.")],
               data_dir: DataDir = Path("minibox-data"), database_url: DbUrl = None) -> None:
    """Create an organisation and its first admin (password from $MINIBOX_ADMIN_PASSWORD or a prompt)."""
    from minibox.platform.accounts.service import bootstrap_admin
    from minibox.platform.context import Ctx
    from minibox.platform.errors import PlatformError
    from minibox.platform.server import open_platform

    password = os.environ.get("MINIBOX_ADMIN_PASSWORD") or typer.prompt("password", hide_input=True,
                                                                         confirmation_prompt=True)
    platform = open_platform(_settings(data_dir, database_url))
    try:
        with platform.db.write() as s:
            new = bootstrap_admin(Ctx(s, platform), name, admin, password)
            secret = new.totp_secret
    except PlatformError as e:
        typer.echo(f"error: {e.code}: {e.message}", err=True)
        raise typer.Exit(1) from e
    finally:
        platform.db.dispose()
    typer.echo(f"organisation {name!r} created; admin {admin!r}; TOTP secret (shown once): {secret}")


def publish(src: Annotated[Path, typer.Argument(help="Mini-program project directory.")],
            app_id: Annotated[str, typer.Option("--app", help="App id on the platform.")],
            version: Annotated[str, typer.Option(help="Version, e.g. 1.2.0.")],
            server_url: Annotated[str, typer.Option("--server", envvar="MINIBOX_SERVER")] = "http://127.0.0.1:8700",
            token: Annotated[str, typer.Option(envvar="MINIBOX_TOKEN", help="API token (versions:upload).")] = "",
            submit: Annotated[bool, typer.Option(help="Also submit for review (token needs versions:submit).")]
            = False) -> None:
    """Upload a project's source as a new version (for CI), optionally submitting it for review."""
    import httpx

    from minibox.platform.demo import zip_dir

    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server_url, headers=headers, timeout=120) as c:
        r = c.post(f"/api/v1/apps/{app_id}/versions", data={"version": version, "kind": "source"},
                   files={"file": ("source.zip", zip_dir(src), "application/zip")})
        if r.status_code != 201:
            body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
            typer.echo(f"upload failed: {r.status_code} {body.get('code')}: {body.get('message')}", err=True)
            for e in (body.get("details") or {}).get("errors", []) if isinstance(body.get("details"), dict) else []:
                typer.echo(f"  {e.get('location')}: {e.get('message')}", err=True)
            raise typer.Exit(1)
        report = r.json()["report"]
        for f in report["findings"]:
            where = f"{f['file']}:{f['line']}:{f['column']}" if f.get("file") else "-"
            typer.echo(f"{f['severity']}: {f['rule']}: {where}: {f['message']}")
        typer.echo(f"uploaded {app_id} {version}: checks {'passed' if report['passed'] else 'FAILED'}")
        if submit:
            r = c.post(f"/api/v1/apps/{app_id}/versions/{version}/submit", json={"comment": "submitted by CI"})
            if r.status_code != 200:
                typer.echo(f"submit failed: {r.status_code} {r.text[:300]}", err=True)
                raise typer.Exit(1)
            typer.echo("submitted for review")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the `minibox` CLI."""
    app.command("server")(server)
    app.command("demo")(demo)
    app.command("publish")(publish)
    app.add_typer(audit_app, name="audit")
    app.add_typer(org_app, name="org")
    from minibox.platform.telemetry.commands import telemetry_app

    app.add_typer(telemetry_app, name="telemetry")
