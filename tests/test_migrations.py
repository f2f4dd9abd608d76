"""The schema comes from Alembic migrations, and they run both ways on SQLite and PostgreSQL."""
from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from yijianshi.storage.database import Database
from yijianshi.storage.tables import Base

TABLES = {t.name for t in Base.metadata.sorted_tables}


def test_upgrade_downgrade_upgrade(db_url):
    db = Database(db_url)
    db.upgrade()
    assert TABLES <= set(inspect(db.engine).get_table_names())
    db.upgrade()  # idempotent
    command.downgrade(db.alembic_config(), "base")
    assert not TABLES & set(inspect(db.engine).get_table_names())
    db.upgrade()
    assert TABLES <= set(inspect(db.engine).get_table_names())
    db.dispose()


def test_models_and_migrations_agree(db_url):
    """A model change without a migration would make autogenerate find differences."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    db = Database(db_url)
    db.upgrade()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    db.dispose()


def test_single_head():
    cfg = Database("sqlite://").alembic_config()
    assert len(ScriptDirectory.from_config(cfg).get_heads()) == 1


def test_sqlite_uses_wal(sqlite_url):
    db = Database(sqlite_url)
    db.upgrade()
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    db.dispose()
