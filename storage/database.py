"""Connecting to the database: SQLite (WAL, the default) or PostgreSQL, and upgrading its schema."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from yijianshi.storage.prepared import PREPARED_OPTION
from yijianshi.storage.wal_checkpointer import BACKSTOP_PAGES, WalCheckpointer
from yijianshi.storage.write_batch import flush_before_sqlalchemy, pipelined_transaction

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class Database:
    """Owns the SQLAlchemy engine. `writer` begins SQLite transactions IMMEDIATE so that two
    commands never both read a case and then fail to upgrade their lock; `reader` stays deferred.
    The URL comes from the settings (engine/settings.py: YIJIANSHI_DATABASE_URL or the default file).
    `prepared=False` runs the hot-path statements of storage/prepared.py through plain
    `Connection.execute` instead of the driver's cursor (Settings.prepared_statements,
    YIJIANSHI_PREPARED=0): both paths are complete; bench/engine_throughput.py measures the two."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10, prepared: bool = True,
                 background_checkpoint: bool = True):
        self.url = make_url(url)
        self.checkpointer: WalCheckpointer | None = None
        self.prepared = prepared
        options = {"execution_options": {PREPARED_OPTION: prepared}}
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            database = self.url.database
            memory = not database or database == ":memory:"
            if database and not memory:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            pool_args = {} if memory else {"pool_size": pool_size, "max_overflow": 20}
            self.engine = create_engine(
                self.url, echo=echo, connect_args={"timeout": 60, "check_same_thread": False}, **pool_args,
                **options,
            )
            if background_checkpoint and database and not memory:  # storage/wal_checkpointer.py
                self.checkpointer = WalCheckpointer(database)
            _configure_sqlite(self.engine, self.checkpointer)
        else:
            # No pre-ping (a round trip per checkout): a dead connection fails its statement, is
            # invalidated, and a case command runs again (storage/write_batch.py).
            self.engine = create_engine(self.url, echo=echo, pool_size=pool_size, max_overflow=20, **options)
            flush_before_sqlalchemy(self.engine)
        self.writer: Engine = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE") if self.is_sqlite else self.engine
        )
        # PostgreSQL reads run in autocommit: under READ COMMITTED every statement has its own
        # snapshot anyway, and a read costs one round trip instead of BEGIN, query and ROLLBACK.
        self.reader: Engine = (
            self.engine if self.is_sqlite else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )

    @contextmanager
    def command_transaction(self, reading: Connection | None = None) -> Iterator[Connection]:
        """The write transaction of a case command. On PostgreSQL it is one round trip: BEGIN, the
        hot-path writes and COMMIT sent together (storage/write_batch.py); on SQLite an IMMEDIATE
        transaction. `reading`: the connection (of `reader`) the command read and computed on, which
        then writes too (one pool checkout per command instead of two); a read transaction still
        open on it ends first, so the write sees everything committed since."""
        if reading is not None:
            if reading.in_transaction():
                reading.rollback()  # a read (transaction) ends: nothing was written on it
            if self.is_sqlite:
                reading.execution_options(sqlite_begin="IMMEDIATE")  # this Connection only, not the pool's
                with reading.begin():
                    yield reading
            else:
                with reading.begin(), pipelined_transaction(reading):
                    yield reading
            return
        if self.is_sqlite:
            with self.writer.begin() as conn:
                yield conn
            return
        # Autocommit: the driver sends no BEGIN or COMMIT of its own; the batch sends both, and the
        # rollback of a failed command is sent by the driver because the server is in a transaction.
        with self.reader.connect() as conn, conn.begin(), pipelined_transaction(conn):
            yield conn

    def upgrade(self, revision: str = "head") -> None:
        """Create or upgrade the schema with Alembic."""
        command.upgrade(self.alembic_config(), revision)

    def alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["engine"] = self.engine
        return cfg

    def dispose(self) -> None:
        self.engine.dispose()
        if self.checkpointer is not None:
            self.checkpointer.stop()
            self.checkpointer = None


def _configure_sqlite(engine: Engine, checkpointer: WalCheckpointer | None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy's begin event decide when a transaction starts (pysqlite's own is wrong).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        if checkpointer is not None:  # the thread checkpoints; a COMMIT only past the backstop
            cur.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
        cur.close()

    if checkpointer is not None:
        event.listen(engine, "commit", lambda _conn: checkpointer.notify())

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        # Straight on the driver: this runs before every command, and SQLAlchemy's statement
        # machinery would cost more than the BEGIN itself.
        conn.connection.dbapi_connection.execute(f"BEGIN {mode}")
