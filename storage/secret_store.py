"""SQL for the secrets the application generates once and every host reads (app_secrets): the first
process to need one inserts it with INSERT ... ON CONFLICT DO NOTHING and then everyone, itself
included, reads the row that won, so hosts starting together agree without a lock."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from yijianshi.storage.tables import AppSecret

secrets_t = AppSecret.__table__
_INSERT = {"sqlite": sqlite.insert(secrets_t).on_conflict_do_nothing(index_elements=["name"]),
           "postgresql": postgresql.insert(secrets_t).on_conflict_do_nothing(index_elements=["name"])}


def shared_secret(writer: Engine, name: str, make: Callable[[], str]) -> str:
    """The secret called `name`, created by `make()` if no process created it before."""
    query = select(secrets_t.c.value).where(secrets_t.c.name == name)
    with writer.connect() as conn:
        found = conn.execute(query).scalar()
    if found is not None:
        return found
    with writer.begin() as conn:
        conn.execute(_INSERT[writer.dialect.name],
                     {"name": name, "value": make(), "created_at": datetime.now(timezone.utc)})
        return conn.execute(query).scalar_one()
