"""Alembic migrations create exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from minibox.platform.db import Base, Database, import_models


def test_migrations_match_models_and_are_idempotent(database_url: str) -> None:
    import_models()
    db = Database(database_url)
    try:
        db.migrate()
        db.migrate()  # a second replica starting later: nothing to do
        with db.write_engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        db.dispose()
