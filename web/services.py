"""The engine services one app instance uses, built once at start-up and shared by every request
(no per-request construction)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from yijianshi.engine.access.accounts import AccountService
from yijianshi.engine.access.api_clients import ApiClientService
from yijianshi.engine.audit.export_jobs import ExportJobs
from yijianshi.engine.cases.idempotent_start import IdempotentStarts
from yijianshi.engine.cases.materials import FileStore, MaterialService
from yijianshi.engine.runtime import Engine
from yijianshi.web.scenarios import ScenarioCatalogue


@dataclass
class Services:
    engine: Engine
    accounts: AccountService
    materials: MaterialService
    scenarios: ScenarioCatalogue
    exports: ExportJobs
    api_clients: ApiClientService
    starts: IdempotentStarts

    @classmethod
    def build(cls, engine: Engine, config) -> Services:
        accounts = AccountService(engine.db, engine.clock, password_method=config["PASSWORD_HASH_METHOD"])
        materials = MaterialService(engine.db, FileStore(config["UPLOAD_FOLDER"]), engine.clock,
                                    max_bytes=config["MAX_UPLOAD_BYTES"], max_files=config["MAX_UPLOAD_FILES"])
        exports = ExportJobs(engine, Path(config["UPLOAD_FOLDER"]) / "exports")
        return cls(engine, accounts, materials, ScenarioCatalogue(engine), exports,
                   ApiClientService(engine.db, engine.clock), IdempotentStarts(engine.db, engine.cases))


def services() -> Services:
    return current_app.extensions["yijianshi.services"]
