"""The audit chain: every tampering (edit, delete, reorder, truncate, rewrite) is detected by
`minibox audit verify`, which names the first bad entry (MGT-06), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from minibox.cli import app as cli
from minibox.platform.apps import service as apps
from minibox.platform.audit.chain import entry_hash
from minibox.platform.context import Ctx, Platform

from .conftest import make_platform, seed_tenant

ENTRIES = 12


def _logged(url: str, tmp_path: Path) -> Iterator[tuple[Platform, Path, str]]:
    data = tmp_path / "data"
    plat = make_platform(data, url)
    t = seed_tenant(plat, "Audited")  # 6 entries
    with plat.db.write() as s:
        for i in range(ENTRIES - 6):
            apps.create_app(Ctx(s, plat, t.users["admin"]), f"app{i}", f"App {i}")
    yield plat, data, url
    plat.db.dispose()


@pytest.fixture
def logged(database_url: str, tmp_path: Path) -> Iterator[tuple[Platform, Path, str]]:
    """A 12-entry log on each backend."""
    yield from _logged(database_url, tmp_path)


@pytest.fixture
def logged_sqlite(tmp_path: Path) -> Iterator[tuple[Platform, Path, str]]:
    """The tampering corpus runs on SQLite; PostgreSQL runs the trigger, rewrite and truncation cases."""
    yield from _logged(f"sqlite:///{tmp_path / 'audit.db'}", tmp_path)


def verify(data: Path, url: str, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["audit", "verify", "--data-dir", str(data), "--database-url", url, *extra])
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes is not None else "")


def as_attacker(plat: Platform, *statements: str) -> None:
    """The DB owner drops the append-only triggers and tampers directly."""
    with plat.db.write() as s:
        for table in ("audit_entries", "audit_checkpoints"):
            if plat.db.is_sqlite:
                s.execute(text(f"DROP TRIGGER {table}_no_update"))
                s.execute(text(f"DROP TRIGGER {table}_no_delete"))
            else:
                s.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))
        for stmt in statements:
            s.execute(text(stmt))


def test_intact_log_verifies_and_exports(logged: tuple[Platform, Path, str]) -> None:
    _plat, data, url = logged
    code, out = verify(data, url)
    assert code == 0, out
    assert f"{ENTRIES} entries" in out
    result = CliRunner().invoke(cli, ["audit", "export", "--data-dir", str(data), "--database-url", url])
    lines = [json.loads(x) for x in result.output.splitlines()]
    assert [x["seq"] for x in lines] == list(range(1, ENTRIES + 1))
    assert lines[0]["prev_hash"] == "0" * 64 and lines[1]["prev_hash"] == lines[0]["hash"]


def test_triggers_refuse_update_and_delete(logged: tuple[Platform, Path, str]) -> None:
    plat, _data, _url = logged
    for stmt in ("UPDATE audit_entries SET actor = 'x' WHERE seq = 1", "DELETE FROM audit_entries WHERE seq = 1"):
        with pytest.raises(DBAPIError, match="append-only"), plat.db.write() as s:
            s.execute(text(stmt))


TAMPERING: dict[str, tuple[Callable[[int], list[str]], int]] = {
    "edit": (lambda n: ["UPDATE audit_entries SET details = '{\"name\":\"evil\"}' WHERE seq = 3"], 3),
    "edit_outcome": (lambda n: ["UPDATE audit_entries SET outcome = 'ok', actor = 'someone' WHERE seq = 5"], 5),
    "delete": (lambda n: ["DELETE FROM audit_entries WHERE seq = 4"], 4),
    "reorder": (lambda n: ["UPDATE audit_entries SET seq = -1 WHERE seq = 6",
                           "UPDATE audit_entries SET seq = 6 WHERE seq = 7",
                           "UPDATE audit_entries SET seq = 7 WHERE seq = -1"], 6),
    "truncate": (lambda n: [f"DELETE FROM audit_entries WHERE seq > {n - 3}"], ENTRIES - 2),
}


@pytest.mark.parametrize("attack", sorted(TAMPERING))
def test_tampering_is_detected(logged_sqlite: tuple[Platform, Path, str], attack: str) -> None:
    plat, data, url = logged_sqlite
    statements, first_bad = TAMPERING[attack]
    as_attacker(plat, *statements(ENTRIES))
    code, out = verify(data, url)
    assert code == 1, out
    assert f"first bad entry {first_bad}" in out, out


def test_rewriting_the_chain_consistently_is_detected(logged: tuple[Platform, Path, str]) -> None:
    """The attacker edits entry 3 and recomputes every later hash: the signed head gives it away."""
    plat, data, url = logged
    with plat.db.read() as s:
        rows = s.execute(text("SELECT seq, ts, org_id, actor, action, target, outcome, details, prev_hash "
                              "FROM audit_entries ORDER BY seq")).all()
    statements, prev = [], None
    for row in rows:
        seq, ts, org_id, actor, action, target, outcome, details, prev_hash = row
        if seq == 3:
            details = '{"name":"rewritten"}'
        if prev is not None:
            prev_hash = prev
        h = entry_hash(seq=seq, ts=ts, org_id=org_id, actor=actor, action=action, target=target, outcome=outcome,
                       details=details, prev_hash=prev_hash)
        if seq >= 3:
            statements.append(f"UPDATE audit_entries SET details = '{details}', prev_hash = '{prev_hash}', "
                              f"hash = '{h}' WHERE seq = {seq}")
        prev = h
    as_attacker(plat, *statements)
    code, out = verify(data, url)
    assert code == 1 and "first bad entry" in out, out


def test_external_checkpoint_catches_truncation_with_forged_head(logged: tuple[Platform, Path, str],
                                                                 tmp_path: Path) -> None:
    """Truncate the tail and roll the head row back to an older signed head: a copy kept elsewhere tells."""
    plat, data, url = logged
    copy = tmp_path / "checkpoints.jsonl"
    result = CliRunner().invoke(cli, ["audit", "checkpoint", "--data-dir", str(data), "--database-url", url,
                                      "--copy-to", str(copy)])
    assert result.exit_code == 0, result.output
    with plat.db.read() as s:
        old = s.execute(text("SELECT seq, hash FROM audit_entries WHERE seq = 5")).one()
    as_attacker(plat, "DELETE FROM audit_entries WHERE seq > 5", "DELETE FROM audit_checkpoints",
                f"UPDATE audit_head SET seq = 5, hash = '{old.hash}'")
    code, out = verify(data, url, "--checkpoints", str(copy))
    assert code == 1, out
    assert "truncated" in out
