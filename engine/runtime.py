"""The engine as one object: the database, the clock, the safe script engine, cached definitions,
and the services every entry point (web, scheduler, CLI) calls."""
from __future__ import annotations

from pathlib import Path

from yijianshi.engine.cases import history as h
from yijianshi.engine.access.actors import SYSTEM, Actor
from yijianshi.engine.cases.commands import CaseService
from yijianshi.engine.cases.external_tasks import ExternalTaskService
from yijianshi.engine.clock import Clock
from yijianshi.engine.modeling.definitions import (
    DefinitionCache,
    DeployedVersion,
    SourceFile,
    parse_deployment,
    read_sources,
    store_deployment,
)
from yijianshi.engine.errors import DefinitionError, NotFound, Problem
from yijianshi.engine.audit.replay import ReplayReport, reexecute
from yijianshi.engine.scripting.isolated import IsolatedEnvironment
from yijianshi.engine.scripting.sandbox import SafeScriptEngine
from yijianshi.engine.scripting.worker_pool import ScriptLimits
from yijianshi.engine.deadlines.calendar_holder import CalendarHolder
from yijianshi.storage import case_store
from yijianshi.storage import definition_store
from yijianshi.storage.database import Database


class Engine:
    def __init__(self, db: Database, clock: Clock | None = None, *, script_limits: ScriptLimits | None = None):
        self.db = db
        self.clock = clock or Clock()
        self.definitions = DefinitionCache()
        self.calendar = CalendarHolder(db)
        # Scripts and costly expressions run in worker processes with hard CPU and memory limits.
        self.script_engine = SafeScriptEngine(environment=IsolatedEnvironment(self.clock, self.calendar,
                                                                              script_limits))
        self.cases = CaseService(db, self.definitions, self.script_engine, self.clock)
        self.external_tasks = ExternalTaskService(self.cases)
        # The 12345 revisit watch counts working days on the calendar the deadlines use.
        self.cases.runner.notices.add_working_days = lambda start, n: self.calendar.calendar.add_working_days(start, n)

    # -- definitions ---------------------------------------------------------------------------

    def validate(self, paths: list[str | Path]) -> list[Problem]:
        """Every problem in the given files; empty when they would deploy."""
        try:
            parse_deployment(read_sources(paths))
        except DefinitionError as err:
            return err.problems
        return []

    def deploy(self, paths: list[str | Path] | None = None, *, sources: list[SourceFile] | None = None,
               actor: Actor = SYSTEM) -> list[DeployedVersion]:
        """Deploy files all-or-nothing; unchanged definitions keep their version."""
        parsed = parse_deployment(sources if sources is not None else read_sources(paths or []))
        with self.db.writer.begin() as conn:
            return store_deployment(conn, parsed, actor.id, self.clock.now())

    def definition_summary(self) -> list:
        with self.db.reader.connect() as conn:
            return definition_store.summary(conn)

    # -- history -------------------------------------------------------------------------------

    def history(self, case_id: int) -> list:
        with self.db.reader.connect() as conn:
            if case_store.case_head(conn, case_id) is None:
                raise NotFound(f"案件 {case_id} 不存在。")
            return case_store.case_events(conn, case_id)

    def verify(self, case_id: int | None = None) -> list[h.ChainReport]:
        """Check the hash chain of one case, or of every case."""
        with self.db.reader.connect() as conn:
            ids = [case_id] if case_id is not None else case_store.all_case_ids(conn)
            reports = []
            for cid in ids:
                head = case_store.case_head(conn, cid)
                if head is None:
                    raise NotFound(f"案件 {cid} 不存在。")
                rows = case_store.case_events(conn, cid)
                reports.append(h.verify_rows(cid, rows, head.history_seq, head.history_head))
        return reports

    def reexecute(self, case_id: int) -> ReplayReport:
        return reexecute(self, case_id)
