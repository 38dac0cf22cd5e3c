"""Bring a control-plane database to the newest schema with Alembic, on open."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

MIGRATIONS = Path(__file__).parent / "migrations"
# the revision that created the runs table, which workspaces made before migrations already have
BASELINE = "0001"
# any number, the same in every process: PostgreSQL serialises migrations on it
_MIGRATION_LOCK = 7_402_117


def alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Migrate to the head revision unless the database is there already."""
    newest = head()
    with engine.connect() as connection:
        if current(connection) == newest:
            return
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # two processes opening a fresh database at once: one migrates, the other waits
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        revision = current(connection)
        if revision == newest:
            return
        config = alembic_config()
        config.attributes["connection"] = connection
        if revision is None and inspect(connection).has_table("runs"):
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")
