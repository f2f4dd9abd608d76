"""The composition root: every long-lived object of a process, built once from its settings. The web
app, each `yijianshi` command, the deadline scheduler and the benchmarks all start here, so that a
service is wired the same way wherever it runs.

    system = System.build(Settings.from_environ(os.environ))   # at the edge only
    system.engine.cases.start_case(...)
    scheduler = system.scheduler(lease_ttl_s=5.0)
    system.close()"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from yijianshi.engine.access.accounts import AccountService, SignInPolicy
from yijianshi.engine.access.organisation import OrganisationService
from yijianshi.engine.access.api_clients import ApiClientService
from yijianshi.engine.audit.checkpoints import Checkpoints
from yijianshi.engine.audit.export_jobs import ExportJobs
from yijianshi.engine.cases.idempotent_start import IdempotentStarts
from yijianshi.engine.cases.materials import MaterialService
from yijianshi.engine.clock import Clock
from yijianshi.engine.connectors import setup as connectors
from yijianshi.engine.connectors.runner import ConnectorRunner
from yijianshi.engine.notifications import setup as notifications
from yijianshi.engine.notifications.dispatcher import Dispatcher
from yijianshi.engine.runtime import Engine
from yijianshi.engine.settings import Settings
from yijianshi.storage.database import Database
from yijianshi.storage.file_store import DatabaseFiles, FileStore, FolderFiles

if TYPE_CHECKING:  # imported when a scheduler is made: APScheduler is not every command's business
    from yijianshi.engine.deadlines.scheduler import DeadlineScheduler


@dataclass
class System:
    settings: Settings
    db: Database
    engine: Engine
    accounts: AccountService
    files: FileStore
    materials: MaterialService
    exports: ExportJobs
    api_clients: ApiClientService
    starts: IdempotentStarts
    checkpoints: Checkpoints
    organisation: OrganisationService
    notifier: Dispatcher
    connectors: ConnectorRunner | None = None  # None: no register configured

    @classmethod
    def build(cls, settings: Settings, clock: Clock | None = None, *, pool_size: int = 10) -> System:
        """Connect to the settings' database and build every service on it (`clock`: tests)."""
        return cls.around(Engine(Database(settings.database_url, pool_size=pool_size,
                                            prepared=settings.prepared_statements,
                                            background_checkpoint=settings.sqlite_background_checkpoint), clock,
                                 script_limits=settings.script_limits), settings)

    @classmethod
    def around(cls, engine: Engine, settings: Settings) -> System:
        """The services on an engine that already exists (a test's, which it also drives directly).
        The engine's database, not settings.database_url, is the one used."""
        db, clock = engine.db, engine.clock
        notifications.configure(engine.cases.runner.notices, settings)
        files = file_store(settings, db)
        return cls(
            settings=settings,
            db=db,
            engine=engine,
            accounts=AccountService(db, clock, password_method=settings.password_hash_method,
                                    policy=SignInPolicy.from_settings(settings)),
            files=files,
            materials=MaterialService(db, files, clock, max_bytes=settings.max_upload_bytes,
                                      max_files=settings.max_upload_files),
            exports=ExportJobs(engine, files),
            api_clients=ApiClientService(db, clock),
            starts=IdempotentStarts(db, engine.cases),
            checkpoints=Checkpoints(db, clock, settings.checkpoint_dir, settings.signing_key_file),
            organisation=OrganisationService(db, clock),
            notifier=notifications.dispatcher(engine, settings),
            connectors=connectors.runner(engine, settings),
        )

    def scheduler(self, **options) -> DeadlineScheduler:
        """A new deadline scheduler on this system's engine (not started); options as
        DeadlineScheduler takes them (lease_ttl_s, tick_s, ...)."""
        from yijianshi.engine.deadlines.scheduler import DeadlineScheduler

        if self.settings.checkpoint_every_s > 0:
            options.setdefault("checkpoints", self.checkpoints)
            options.setdefault("checkpoint_every_s", self.settings.checkpoint_every_s)
        if self.settings.notify_every_seconds > 0:
            options.setdefault("notifier", self.notifier)
            options.setdefault("notify_every_s", self.settings.notify_every_seconds)
        if self.connectors is not None and self.settings.connector_every_seconds > 0:
            options.setdefault("connectors", self.connectors)
            options.setdefault("connectors_every_s", self.settings.connector_every_seconds)
        return DeadlineScheduler(self.engine, **options)

    def close(self) -> None:
        self.db.dispose()


def file_store(settings: Settings, db: Database) -> FileStore:
    """Where materials and exports are stored (Settings.file_store_kind): the database, which every
    host reads, or the upload folder. Uploads are staged in this host's <uploads>/tmp either way."""
    if settings.file_store_kind == "database":
        return DatabaseFiles(db.reader, db.writer, settings.uploads / "tmp")
    return FolderFiles(settings.uploads)
