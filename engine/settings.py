"""The settings of one process, read once from the environment at the edge (the `yijianshi` command,
web/wsgi.py, web/gunicorn_conf.py) and passed down. Nothing below the edge reads the environment.

    YIJIANSHI_HOME              folder for the default SQLite file, the secret key file and uploads
                                (default: var, in the folder the process starts in)
    YIJIANSHI_DATABASE_URL      SQLAlchemy URL (default: SQLite file <home>/yijianshi.sqlite3)
    YIJIANSHI_UPLOADS           folder for uploaded materials and exports (default: <home>/uploads)
    YIJIANSHI_SECRET_KEY        the key that signs sessions (default: generated once into <home>/secret_key)
    YIJIANSHI_SECURE_COOKIES    1: session cookies only over HTTPS
    YIJIANSHI_HEALTH_SCHEDULER_STALE_SECONDS
                                /healthz fails when no scheduler renewed its lease for this long (default 15;
                                0 leaves the scheduler out of the check)
    YIJIANSHI_LOG_FORMAT        json (default) or text
    YIJIANSHI_LOG_LEVEL         default: INFO for the server and scheduler, WARNING for other commands
    PROMETHEUS_MULTIPROC_DIR    set: several worker processes share their metrics through this folder
    YIJIANSHI_SCRIPT_CPU_SECONDS  CPU time one BPMN script or expression may use (default 1)
    YIJIANSHI_SCRIPT_MEMORY_MB  memory (address space) of a script worker process (default 256)
    YIJIANSHI_SCRIPT_WORKERS    scripts that may run at the same time in one process (default 8)

Every path is made absolute when the settings are read (a relative one against the folder the
process starts in), so that a path means the same file wherever it is used later."""
from __future__ import annotations

import dataclasses
import os.path
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from yijianshi.engine.scripting.worker_pool import ScriptLimits

HOME_DEFAULT = "var"
SQLITE_FILE = "yijianshi.sqlite3"
SECRET_KEY_FILE = "secret_key"
# Uploads: the largest file, and how many files one submission may carry.
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_FILES = 10


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    uploads: Path
    secret_key: str | None = field(default=None, repr=False)  # None: the key generated into secret_key_file
    secure_cookies: bool = False
    health_scheduler_stale_seconds: float = 15.0
    log_format: str = "json"  # "text" for a person at a terminal; anything else is json
    log_level: str | None = None  # None: the default of the command that runs
    prometheus_multiproc_dir: Path | None = None
    # The hot-path statements on the DBAPI cursor (storage/prepared.py); YIJIANSHI_PREPARED=0 runs them
    # through plain SQLAlchemy execution instead (bench/engine_throughput.py compares the two).
    prepared_statements: bool = True
    # Hard limits on BPMN scripts and expressions (engine/scripting/worker_pool.py).
    script_cpu_seconds: float = 1.0
    script_memory_mb: int = 256
    script_workers: int = 8
    # Not read from the environment: production values, which tests replace.
    password_hash_method: str = "scrypt"  # werkzeug.security method
    max_upload_bytes: int = DEFAULT_MAX_BYTES
    max_upload_files: int = DEFAULT_MAX_FILES

    def __post_init__(self) -> None:
        if self.script_cpu_seconds <= 0 or self.script_memory_mb < 64 or self.script_workers < 1:
            raise ValueError("script limits: CPU seconds > 0, memory at least 64 MB, at least one worker")
        for name in ("home", "uploads", "prometheus_multiproc_dir"):
            value = getattr(self, name)
            if value is not None and not Path(value).is_absolute():
                raise ValueError(f"Settings.{name} must be an absolute path, not {value}")
        sqlite_file = _sqlite_file(self.database_url)
        if sqlite_file is not None and not Path(sqlite_file).is_absolute():
            raise ValueError(f"Settings.database_url must name an absolute SQLite file, "
                             f"not {self.database_url}")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], *, cwd: Path | None = None) -> Settings:
        """The settings a process with this environment, started in `cwd` (default: the current
        folder), runs with."""
        base = Path(cwd) if cwd is not None else Path.cwd()

        def value(name: str) -> str | None:
            return environ.get(name) or None  # set but empty counts as not set

        home = absolute(value("YIJIANSHI_HOME") or HOME_DEFAULT, base)
        uploads = value("YIJIANSHI_UPLOADS")
        multiproc = value("PROMETHEUS_MULTIPROC_DIR")
        return cls(
            home=home,
            database_url=absolute_url(value("YIJIANSHI_DATABASE_URL") or default_database_url(home), base),
            uploads=absolute(uploads, base) if uploads else home / "uploads",
            secret_key=value("YIJIANSHI_SECRET_KEY"),
            secure_cookies=environ.get("YIJIANSHI_SECURE_COOKIES") == "1",
            health_scheduler_stale_seconds=float(value("YIJIANSHI_HEALTH_SCHEDULER_STALE_SECONDS") or "15"),
            log_format=(value("YIJIANSHI_LOG_FORMAT") or "json").lower(),
            log_level=(value("YIJIANSHI_LOG_LEVEL") or "").upper() or None,
            prometheus_multiproc_dir=absolute(multiproc, base) if multiproc else None,
            prepared_statements=(value("YIJIANSHI_PREPARED") or "1").strip().lower() not in {"0", "false", "no", "off"},
            script_cpu_seconds=float(value("YIJIANSHI_SCRIPT_CPU_SECONDS") or "1"),
            script_memory_mb=int(value("YIJIANSHI_SCRIPT_MEMORY_MB") or "256"),
            script_workers=int(value("YIJIANSHI_SCRIPT_WORKERS") or "8"),
        )

    @classmethod
    def at(cls, home: str | Path, database_url: str | None = None, **fields) -> Settings:
        """Settings for a process of our own (a test, a benchmark, the stack) keeping its files in
        `home`, as if started with YIJIANSHI_HOME=home (and YIJIANSHI_DATABASE_URL) and nothing else."""
        environ = {"YIJIANSHI_HOME": str(home)}
        if database_url:
            environ["YIJIANSHI_DATABASE_URL"] = database_url
        return cls.from_environ(environ).replace(**fields)

    def replace(self, **fields) -> Settings:
        """A copy with some fields changed; a database URL given here is made absolute like one read
        from the environment."""
        if fields.get("database_url"):
            fields["database_url"] = absolute_url(fields["database_url"], Path.cwd())
        return dataclasses.replace(self, **fields)

    @property
    def script_limits(self) -> ScriptLimits:
        """What one BPMN script or expression may cost."""
        return ScriptLimits(cpu_seconds=self.script_cpu_seconds, memory_mb=self.script_memory_mb,
                            max_workers=self.script_workers)

    @property
    def secret_key_file(self) -> Path:
        return self.home / SECRET_KEY_FILE

    @property
    def exports(self) -> Path:
        """Where finished case exports are written."""
        return self.uploads / "exports"


def absolute(path: str | Path, base: Path) -> Path:
    """`path` made absolute against `base` (with ~ expanded and . and .. removed)."""
    p = Path(path).expanduser()
    return Path(os.path.normpath(p if p.is_absolute() else base / p))


def default_database_url(home: Path) -> str:
    return f"sqlite:///{home / SQLITE_FILE}"


def absolute_url(url: str, base: Path) -> str:
    """The URL with a relative SQLite file made absolute; other URLs as given."""
    sqlite_file = _sqlite_file(url)
    if sqlite_file is None or Path(sqlite_file).is_absolute():
        return url
    parsed = make_url(url)
    return parsed.set(database=str(absolute(sqlite_file, base))).render_as_string(hide_password=False)


def _sqlite_file(url: str) -> str | None:
    """The file of an SQLite URL; None for another database or an in-memory one."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return None
    return parsed.database
