"""Exports of many cases' event logs as background jobs: a job row records the search, the number of
cases to write and how many are written, so a page can show progress; the file is written to this
host's scratch folder and stored (storage/file_store.py: the database or a folder, where every host
reads it) when complete, so a download never sees half a file."""
from __future__ import annotations

import json
import tempfile
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from yijianshi.engine.errors import EngineError, NotFound
from yijianshi.engine.audit.event_logs import FORMATS, traces, write_log
from yijianshi.engine.cases.history import canonical_json
from yijianshi.storage import audit_store
from yijianshi.storage.audit_store import CaseSearch
from yijianshi.storage.file_store import Content, FileStore

PROGRESS_EVERY = 20  # cases between progress updates
# A queued or running job whose progress has not moved for this long lost the process that ran it
# (a restart, a killed worker): it is shown as failed so the auditor starts it again.
ABANDONED_AFTER = timedelta(minutes=10)
ABANDONED = "导出中断（处理它的服务进程已停止），请重新导出。"


@dataclass(frozen=True)
class ExportJobView:
    id: int
    requested_by: str
    format: str
    search: CaseSearch
    state: str  # queued, running, done, failed
    total: int
    done: int
    events: int
    error: str | None
    created_at: object
    finished_at: object

    @property
    def percent(self) -> int:
        if self.state == "done":
            return 100
        return int(self.done * 100 / self.total) if self.total else 0

    @property
    def filename(self) -> str:
        return f"yijianshi-events-{self.id}.{FORMATS[self.format][1]}"


class ExportJobs:
    def __init__(self, engine, store: FileStore):
        self.engine = engine
        self.store = store

    def create(self, requested_by: str, fmt: str, search: CaseSearch) -> ExportJobView:
        """Record a new export (queued) with the number of cases it will write."""
        if fmt not in FORMATS:
            raise EngineError(f"不支持的导出格式：{fmt}（可选 XES 或 CSV）。")
        now = self.engine.clock.now()
        with self.engine.db.writer.begin() as conn:
            total = audit_store.count_cases(conn, search)
            job_id = audit_store.create_job(conn, dict(
                requested_by=requested_by, format=fmt, filter_json=canonical_json(search.as_dict()),
                state="queued", total=total, done=0, events=0, error=None, created_at=now, updated_at=now,
                finished_at=None))
        return self.get(job_id)

    def get(self, job_id: int) -> ExportJobView:
        with self.engine.db.reader.connect() as conn:
            row = audit_store.job(conn, job_id)
        if row is None:
            raise NotFound(f"导出任务 {job_id} 不存在。")
        return _view(row, self.engine.clock.now())

    def recent(self, requested_by: str) -> list[ExportJobView]:
        with self.engine.db.reader.connect() as conn:
            rows = audit_store.jobs_of(conn, requested_by)
        now = self.engine.clock.now()
        return [_view(r, now) for r in rows]

    def key_of(self, job: ExportJobView) -> str:
        return f"exports/{job.filename}"

    def content_of(self, job: ExportJobView) -> Content | None:
        """The finished file of a job; None while it runs, after it failed, or if it was removed."""
        if job.state != "done":
            return None
        return self.store.open(self.key_of(job))

    def start(self, job_id: int) -> threading.Thread:
        """Run the job on a daemon thread of this process."""
        thread = threading.Thread(target=self.run, args=(job_id,), name=f"export-{job_id}", daemon=True)
        thread.start()
        return thread

    def run(self, job_id: int) -> ExportJobView:
        """Write the file, updating the job's progress as cases are written."""
        job = self.get(job_id)
        self.update(job_id, state="running")
        self.store.scratch.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.store.scratch, prefix=f"export-{job_id}-", suffix=".part")
        partial = Path(name)
        counts = {"done": 0, "events": 0}

        def progressed(trace) -> None:
            counts["done"] += 1
            counts["events"] += len(trace.events)
            if counts["done"] % PROGRESS_EVERY == 0:
                self.update(job_id, **counts)

        try:
            with open(fd, "wb") as out:
                write_log(job.format, out, traces(self.engine, job.search), on_trace=progressed)
            self.store.put(self.key_of(job), partial, replace=True)
        except Exception as err:  # the job page shows what went wrong; the partial file goes
            partial.unlink(missing_ok=True)
            self.update(job_id, state="failed", error=str(err)[:1000], finished_at=self.engine.clock.now(),
                         **counts)
            return self.get(job_id)
        # Cases started after the job was created may have matched too: the total follows the file.
        self.update(job_id, state="done", total=max(job.total, counts["done"]),
                     finished_at=self.engine.clock.now(), **counts)
        return self.get(job_id)

    def update(self, job_id: int, **values) -> None:
        values["updated_at"] = self.engine.clock.now()
        with self.engine.db.writer.begin() as conn:
            audit_store.update_job(conn, job_id, values)


def _view(row, now) -> ExportJobView:
    state, error = row.state, row.error
    if state in ("queued", "running") and now - row.updated_at > ABANDONED_AFTER:
        state, error = "failed", ABANDONED
    return ExportJobView(row.id, row.requested_by, row.format, CaseSearch.from_dict(json.loads(row.filter_json)),
                         state, row.total, row.done, row.events, error, row.created_at, row.finished_at)
