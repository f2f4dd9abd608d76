"""Statements on the hot path of every case command, compiled by SQLAlchemy once per dialect and
then run on the DBAPI cursor of the command's own transaction.

SQLAlchemy's per-execution machinery (execution context, parameter construction, result wrapping)
cost about a quarter of a command's time; a command runs five or six of these statements. Here
SQLAlchemy still writes the SQL and supplies the type conversions (`bind_processor`,
`result_processor`); only the per-call bookkeeping is skipped. Everything else keeps using
`Connection.execute`. On PostgreSQL several rows of one INSERT go in one statement
(INSERT ... VALUES (...), (...)): each statement costs psycopg's pipeline a send and a poll.

A database opened with `Database(url, prepared=False)` runs these same statements through plain
`Connection.execute` (the engine carries the choice as the execution option `PREPARED_OPTION`):
bench/engine_throughput.py measures one against the other."""
from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam
from sqlalchemy.exc import ResourceClosedError
from sqlalchemy.sql import Executable

from yijianshi.storage.write_batch import StaleWrite, active_batch, check_disconnect

# Execution option on the SQLAlchemy engine (set by Database): False runs every statement here
# through plain Connection.execute.
PREPARED_OPTION = "yijianshi_prepared"

# On PostgreSQL several rows of one INSERT go in one statement, as many as keep it within what
# psycopg caches the parsing of (at most 50 parameters and 4096 characters, psycopg/_queries.py):
# a statement costs psycopg's pipeline a send and a poll, executemany one per row; a longer one
# is parsed again on every execution, which costs more than it saves.
MULTI_ROW_PARAMETERS = 50
MULTI_ROW_SQL_LENGTH = 4096


def _plain(conn: Connection) -> bool:
    return conn.get_execution_options().get(PREPARED_OPTION, True) is False


class _Form:
    """One compiled form of a statement: SQL text, how to order and convert parameters, and how to
    convert result rows."""

    __slots__ = ("make_row", "names", "positional", "processed", "processors", "result_processors", "sql")

    def __init__(self, statement, dialect, column_keys: list[str] | None):
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        if compiled.escaped_bind_names or getattr(compiled, "literal_execute_params", None):
            raise ValueError("prepared statements need plain bind parameter names")
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        self.names = list(compiled.positiontup) if self.positional else list(compiled.binds)
        self.processors: dict[str, Callable[[Any], Any]] = {}
        for name in self.names:
            bind = compiled.binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.processors[name] = processor
        # (position or name, processor) of the parameters that need converting
        self.processed = [(i if self.positional else name, self.processors[name])
                          for i, name in enumerate(self.names) if name in self.processors]
        self.make_row: Callable[[Iterable[Any]], tuple[Any, ...]] | None = None
        self.result_processors: list[Callable[[Any], Any] | None] = []
        # What a SELECT selects, or what an INSERT, UPDATE or DELETE returns (none: no rows).
        columns = list(getattr(statement, "exported_columns", ()))
        if columns:
            keys = [getattr(c, "key", None) or c.name for c in columns]
            self.make_row = _row_type(keys)._make
            self.result_processors = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]

    def parameters(self, values: Mapping[str, Any]):
        out: Any = [values[name] for name in self.names] if self.positional \
            else {name: values[name] for name in self.names}
        for key, processor in self.processed:
            value = out[key]
            if value is not None:
                out[key] = processor(value)
        return out

    def row(self, raw: Sequence[Any] | None) -> Any:
        if raw is None or self.make_row is None:
            return None
        return self.make_row(v if p is None or v is None else p(v) for v, p in zip(raw, self.result_processors))


def _row_type(keys: list[str]) -> Any:
    """A named tuple type for result rows with these column names (invalid ones renamed)."""
    return namedtuple("Row", keys, rename=True)


class Prepared:
    """A Core statement run on the raw cursor of a SQLAlchemy connection's current transaction.
    Bind parameter names must be plain; INSERTs are compiled per set of column keys."""

    def __init__(self, statement: Executable):
        self.statement = statement
        self._forms: dict[tuple, _Form] = {}
        self._multi_forms: dict[tuple, tuple[str, list] | None] = {}

    def _form(self, conn: Connection, keys: Iterable[str] | None = None) -> _Form:
        dialect = conn.dialect
        # By the dialect's kind, not id(dialect): a disposed engine's dialect object can be freed and
        # its id reused by another database's (SQLite's "?" form run on PostgreSQL, seen in tests).
        key = (type(dialect), dialect.paramstyle, tuple(keys) if keys is not None else None)
        form = self._forms.get(key)
        if form is None:
            form = _Form(self.statement, dialect, list(keys) if keys is not None else None)
            self._forms[key] = form
        return form

    def _cursor(self, conn: Connection) -> Any:
        dbapi_connection = conn.connection.dbapi_connection
        if dbapi_connection is None:
            raise ResourceClosedError("the connection is closed or was invalidated")
        return dbapi_connection.cursor()

    def execute(self, conn: Connection, values: Mapping[str, Any]) -> int:
        """Run once; returns the number of rows affected (-1 when queued in a write batch)."""
        if _plain(conn):
            return conn.execute(self.statement, dict(values)).rowcount
        form = self._form(conn, values.keys() if self._is_insert else None)
        batch = active_batch(conn)
        if batch is not None:
            batch.add(form.sql, form.parameters(values))
            return -1
        return self._run(conn, lambda cur: (cur.execute(form.sql, form.parameters(values)), cur.rowcount)[1])

    def execute_guarded(self, conn: Connection, values: Mapping[str, Any], rows: int = 1) -> None:
        """Run once, expecting `rows` rows affected, else StaleWrite (storage/write_batch.py) — at
        once, or when a write batch the statement is queued in is sent."""
        if _plain(conn):
            if conn.execute(self.statement, dict(values)).rowcount != rows:
                raise StaleWrite()
            return
        form = self._form(conn, values.keys() if self._is_insert else None)
        batch = active_batch(conn)
        if batch is not None:
            batch.add(form.sql, form.parameters(values), expect=rows)
            return
        if self._run(conn, lambda cur: (cur.execute(form.sql, form.parameters(values)), cur.rowcount)[1]) != rows:
            raise StaleWrite()

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        if _plain(conn):
            conn.execute(self.statement, rows[0] if len(rows) == 1 else list(rows))
            return
        form = self._form(conn, rows[0].keys() if self._is_insert else None)
        statements = self._statements(conn, form, [form.parameters(r) for r in rows])
        batch = active_batch(conn)
        if batch is not None:
            for sql, parameters, many in statements:
                batch.add(sql, parameters, many=many)
            return

        def run(cur):
            for sql, parameters, many in statements:
                if many:
                    cur.executemany(sql, parameters)
                else:
                    cur.execute(sql, parameters)
        self._run(conn, run)

    def _statements(self, conn: Connection, form: _Form, rows: list) -> list[tuple[str, Any, bool]]:
        """(sql, parameters, many) to send for these rows (converted by `form`): one statement, run
        once per row when `many`; on PostgreSQL an INSERT returning nothing takes several rows a
        statement (INSERT ... VALUES (...), (...))."""
        if len(rows) == 1:
            return [(form.sql, rows[0], False)]
        per = MULTI_ROW_PARAMETERS // max(1, len(form.names))
        if per < 2 or not self._multi_row(conn):
            return [(form.sql, rows, True)]
        out = []
        for start in range(0, len(rows), per):
            chunk = rows[start:start + per]
            multi = self._rows_form(conn, tuple(form.names), len(chunk)) if len(chunk) > 1 else None
            if multi is None:
                out.append((form.sql, chunk[0] if len(chunk) == 1 else chunk, len(chunk) > 1))
            else:
                sql, spec = multi
                out.append((sql, {flat: row[name] for row, names in zip(chunk, spec) for flat, name in names}, False))
        return out

    def _multi_row(self, conn: Connection) -> bool:
        return (self._is_insert and conn.dialect.name == "postgresql" and not conn.dialect.positional
                and not getattr(self.statement, "_returning", ()))

    def _rows_form(self, conn: Connection, names: tuple[str, ...], count: int) -> tuple[str, list] | None:
        """The SQL of one INSERT of `count` rows with these columns, parameters named name__i, and
        for each row its (parameter, column) pairs; None when SQLAlchemy would add parameters of its
        own (a column's Python-side default) or the SQL is too long for the driver to cache."""
        key = (type(conn.dialect), names, count)
        if key not in self._multi_forms:
            table = self.statement.table  # type: ignore[attr-defined]
            spec = [[(f"{name}__{i}", name) for name in names] for i in range(count)]
            statement = self.statement.values([  # type: ignore[attr-defined]
                {name: bindparam(flat, type_=table.c[name].type) for flat, name in row} for row in spec])
            compiled = statement.compile(dialect=conn.dialect)
            fits = (len(compiled.binds) == len(names) * count and not compiled.escaped_bind_names
                    and len(compiled.string) <= MULTI_ROW_SQL_LENGTH)
            self._multi_forms[key] = (compiled.string, spec) if fits else None
        return self._multi_forms[key]

    def first(self, conn: Connection, values: Mapping[str, Any]):
        """The first row (a named tuple with SQLAlchemy's type conversions applied) or None."""
        if _plain(conn):
            return conn.execute(self.statement, dict(values)).first()
        form = self._form(conn, values.keys() if self._is_insert else None)
        batch = active_batch(conn)
        if batch is not None:  # sent with the queued writes, in the same round trip
            return form.row(self._run(conn, lambda cur: batch.flush((form.sql, form.parameters(values)))))
        return self._run(conn, lambda cur: (cur.execute(form.sql, form.parameters(values)), form.row(cur.fetchone()))[1])

    def all(self, conn: Connection, values: Mapping[str, Any]) -> list:
        """Every row, as `first` gives one."""
        if _plain(conn):
            return list(conn.execute(self.statement, dict(values)).all())
        form = self._form(conn)
        batch = active_batch(conn)
        if batch is not None:
            self._run(conn, lambda cur: batch.flush())
        return self._run(conn, lambda cur: (cur.execute(form.sql, form.parameters(values)),
                                            [form.row(raw) for raw in cur.fetchall()])[1])

    def _run(self, conn: Connection, work: Callable[[Any], Any]) -> Any:
        """`work(cursor)` on the transaction's DBAPI cursor; a dead connection is invalidated and
        raises Disconnected."""
        cur = self._cursor(conn)
        try:
            return work(cur)
        except Exception as err:
            check_disconnect(conn, err, cur)
            raise
        finally:
            cur.close()

    @property
    def _is_insert(self) -> bool:
        return getattr(self.statement, "is_insert", False)
