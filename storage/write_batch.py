"""A command's writes sent to PostgreSQL together. Inside `batched(conn)` the hot-path statements of
storage/prepared.py are queued and sent in one psycopg pipeline when something needs a result — a
query, a statement through SQLAlchemy, the end of the block. A case command's write transaction
(`Database.command_transaction`) goes further: its connection is in autocommit and the batch itself
starts with BEGIN and ends with COMMIT, so the whole transaction is one round trip.

A guarded write (the case row's version check) is checked by the server, in the same round trip:
the statement runs inside `SELECT yijianshi_expect_rows(count(*), n)` (migration 0017), which
raises SQLSTATE YJ409 when the count differs; the rest of the pipeline, COMMIT included, is then
skipped and `StaleWrite` raised.

A dead connection met by a prepared statement invalidates it and raises `Disconnected`, which a
command treats as a lost race and runs again on a new connection (there is no pre-ping per
checkout). On SQLite, where a statement costs no round trip, `batched` changes nothing."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.engine import Engine

_KEY = "yijianshi_write_batch"
STALE_SQLSTATE = "YJ409"  # raised by yijianshi_expect_rows (migration 0017)


class StaleWrite(Exception):
    """A guarded write changed a different number of rows than it expected: the row moved on."""


class Disconnected(Exception):
    """The database connection was found dead; it has been invalidated (the next checkout opens a
    new one)."""


class WriteBatch:
    """Statements queued on one DBAPI connection: (sql, parameters, many)."""

    def __init__(self, dbapi_connection: Any):
        self.dbapi_connection = dbapi_connection
        self.pending: list[tuple[str, Any, bool]] = []

    def add(self, sql: str, parameters: Any, *, many: bool = False, expect: int | None = None) -> None:
        """Queue a statement; with `expect`, the server checks that it changed that many rows."""
        if expect is not None:
            sql = (f"WITH guarded AS ({sql} RETURNING 1) "
                   f"SELECT yijianshi_expect_rows(count(*), {int(expect)}) FROM guarded")
        self.pending.append((sql, parameters, many))

    def flush(self, last: tuple[str, Any] | None = None) -> Any:
        """Send what is queued (and `last`, a query whose first row is returned) in one pipeline."""
        if not self.pending and last is None:
            return None
        pending, self.pending = self.pending, []
        if last is not None:
            pending.append((*last, False))
        # One cursor for the statements whose results nobody reads (the driver keeps each one's
        # result on its cursor until the next replaces it), another for `last`.
        cursors: list[Any] = []
        try:
            with self.dbapi_connection.pipeline():
                for i, (sql, parameters, many) in enumerate(pending):
                    if not cursors or (last is not None and i == len(pending) - 1):
                        cursors.append(self.dbapi_connection.cursor())
                    cur = cursors[-1]
                    if many:
                        cur.executemany(sql, parameters)
                    else:
                        cur.execute(sql, parameters)
            return cursors[-1].fetchone() if last is not None else None
        except Exception as err:
            if getattr(err, "sqlstate", None) == STALE_SQLSTATE:
                raise StaleWrite() from err
            raise
        finally:
            for cur in cursors:
                cur.close()


def active_batch(conn: Connection) -> WriteBatch | None:
    return conn.info.get(_KEY)


@contextmanager
def batched(conn: Connection) -> Iterator[None]:
    """Queue the prepared writes on `conn` (PostgreSQL only) and send them together at the latest
    when the block ends; raises StaleWrite there if a guarded write missed."""
    if conn.dialect.name != "postgresql" or _KEY in conn.info:
        yield
        return
    with _batch(conn, []):
        yield


@contextmanager
def pipelined_transaction(conn: Connection) -> Iterator[None]:
    """On a PostgreSQL connection in autocommit: a transaction whose BEGIN, queued writes and
    COMMIT are sent together (one round trip when nothing in it needs a result earlier). An error
    skips the COMMIT; the caller's rollback ends the transaction."""
    with _batch(conn, [("BEGIN", None, False)]) as batch:
        yield
        batch.pending.append(("COMMIT", None, False))


@contextmanager
def _batch(conn: Connection, first: list) -> Iterator[WriteBatch]:
    batch = WriteBatch(conn.connection.dbapi_connection)
    batch.pending.extend(first)
    conn.info[_KEY] = batch
    try:
        yield batch
        batch.flush()
    finally:
        conn.info.pop(_KEY, None)


def flush_before_sqlalchemy(engine: Engine) -> None:
    """Statements run through SQLAlchemy see the queued writes: the batch is sent first."""

    @event.listens_for(engine, "before_cursor_execute")
    def _flush(conn, cursor, statement, parameters, context, executemany):
        batch = conn.info.get(_KEY)
        if batch is not None and batch.pending:
            batch.flush()


def check_disconnect(conn: Connection, err: Exception, cursor: Any = None) -> None:
    """Raise Disconnected (from `err`) if `err` says the connection is dead, after invalidating it."""
    if not isinstance(err, conn.dialect.loaded_dbapi.Error):
        return
    dbapi_connection = conn.connection.dbapi_connection if not conn.invalidated else None
    if conn.dialect.is_disconnect(err, dbapi_connection, cursor):
        conn.invalidate(err)
        raise Disconnected(str(err)) from err
