"""A throwaway PostgreSQL cluster in a temporary folder, for tests, benchmarks and local stacks.

Uses the server binaries on PATH (initdb, pg_ctl). PostgreSQL refuses to run as root, so when we
are root the server runs as the unprivileged `postgres` user. Any failure raises: a test run that
needs PostgreSQL must fail, not skip, when it cannot have one."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

SERVER_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    pass


def _binary(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)), None)
    if not found:
        raise PostgresUnavailable(f"{name} not found: install the PostgreSQL server (e.g. postgresql-15)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayCluster:
    def __init__(self, *, durable: bool = False):
        self.durable = durable
        self.base = Path(tempfile.mkdtemp(prefix="yjs-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.port = _free_port()
        self.user = SERVER_USER if os.geteuid() == 0 else None

    def _run(self, args: list[str]) -> None:
        result = subprocess.run(args, user=self.user, capture_output=True, text=True, cwd=self.base)
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise PostgresUnavailable(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}\n{log}")

    def start(self) -> "ThrowawayCluster":
        if self.user:
            shutil.chown(self.base, self.user)
        self._run([_binary("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                   "-E", "UTF8", "--no-locale"])
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run([_binary("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"])
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create a database (a copy of `template`, which nobody may be connected to, when given)."""
        import psycopg

        copy = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run([_binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


@contextlib.contextmanager
def throwaway_postgres(database: str = "yijianshi", *, durable: bool = False) -> Iterator[str]:
    """Start a cluster, create one database, yield its SQLAlchemy URL, and remove it all afterwards."""
    cluster = ThrowawayCluster(durable=durable).start()
    try:
        yield cluster.create_database(database)
    finally:
        cluster.stop()
