"""The deadline scheduler: APScheduler jobs that fire due deadlines from the indexed deadline table.

Exactly one scheduler is active across processes: it holds a lease row in the database and renews
it every second; a standby takes the lease over once it expires (a few seconds after the active
one died). Firing itself is idempotent — a deadline is marked fired in the same transaction as the
case step — so even an overlap at hand-over cannot fire anything twice.

The active scheduler also writes the weekly bulletin (每周通报) of the previous week every Monday at
08:00 Asia/Shanghai, and on becoming active it writes the last one due if it is missing (the
scheduler was down that Monday). A bulletin is one row per week, so this too is idempotent.

Given the system's checkpoints, the active scheduler also signs a history checkpoint
(engine/audit/checkpoints.py) every `checkpoint_every_s` (hourly by default) when history grew.

Given the system's notification dispatcher, every scheduler (active or standing by: claiming is safe
between processes) delivers due notifications every `notify_every_s`; given the connector runner
(engine/connectors/), every scheduler runs it every `connectors_every_s` (locks keep two from
serving the same external task)."""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from yijianshi.engine.ops import prometheus as metrics
from yijianshi.engine.supervision import weekly_bulletin
from yijianshi.engine.clock import SHANGHAI, to_utc
from yijianshi.engine.deadlines.lease import LEASE_NAME
from yijianshi.storage import deadline_store

log = logging.getLogger("yijianshi.scheduler")
BULLETIN_JOB = "weekly_bulletin"
CHECKPOINT_JOB = "checkpoint"
NOTIFY_JOB = "notifications"
CONNECTORS_JOB = "connectors"
# Every Monday at 08:00, Asia/Shanghai: the bulletin of the week that ended.
BULLETIN_DAY, BULLETIN_TIME = 0, (8, 0)


@dataclass(frozen=True)
class Firing:
    deadline_id: int
    case_id: int
    due_at: datetime
    fired: bool  # False: someone else fired it, or it was no longer armed


def fire_due(engine, now: datetime | None = None, limit: int = 500) -> list[Firing]:
    """Fire every armed deadline due by `now` (default: the engine clock), earliest first."""
    now = now or engine.clock.now()
    with engine.db.reader.connect() as conn:
        due = deadline_store.due(conn, to_utc(now), limit)
    results = []
    for row in due:
        try:
            fired = engine.cases.fire_deadline(row.id) is not None
        except Exception:  # one broken case must not stop the others from firing
            log.exception("deadline %s of case %s could not fire", row.id, row.case_id,
                          extra={"case_id": row.case_id, "deadline_id": row.id})
            fired = False
        if fired:
            metrics.observe_firing((to_utc(engine.clock.now()) - row.due_at).total_seconds())
        results.append(Firing(row.id, row.case_id, row.due_at, fired))
    return results


class DeadlineScheduler:
    def __init__(self, engine, *, holder: str | None = None, lease_ttl_s: float = 5.0,
                 renew_every_s: float = 1.0, tick_s: float = 0.2, batch: int = 500,
                 checkpoints=None, checkpoint_every_s: float = 3600.0, notifier=None, notify_every_s: float = 5.0,
                 connectors=None, connectors_every_s: float = 5.0):
        self.engine = engine
        self.checkpoints = checkpoints  # engine/audit/checkpoints.Checkpoints, or None: no checkpoint job
        self.checkpoint_every_s = checkpoint_every_s
        self.notifier = notifier  # engine/notifications/dispatcher.Dispatcher, or None: no notification job
        self.notify_every_s = notify_every_s
        self.connectors = connectors  # engine/connectors/runner.ConnectorRunner, or None: no connector job
        self.connectors_every_s = connectors_every_s
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_ttl = timedelta(seconds=lease_ttl_s)
        self.renew_every_s = renew_every_s
        self.tick_s = tick_s
        self.batch = batch
        self._lease_until: datetime | None = None
        self._running = threading.Lock()
        self._catching_up = threading.Lock()
        self._catch_up: threading.Thread | None = None
        self._stopping = threading.Event()
        self.fired = 0
        self._scheduler = BackgroundScheduler(
            timezone=SHANGHAI, executors={"default": ThreadPoolExecutor(4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    # -- leadership ------------------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        until = self._lease_until
        # Stop acting a little before the lease runs out, so a standby never overlaps in practice.
        return until is not None and self.engine.clock.now() < until - self.lease_ttl / 5

    def renew(self) -> bool:
        now = self.engine.clock.now()
        expires = now + self.lease_ttl
        try:
            with self.engine.db.writer.begin() as conn:
                held = deadline_store.try_lead(conn, LEASE_NAME, self.holder, to_utc(now), to_utc(expires))
        except Exception:
            log.exception("could not renew the scheduler lease")
            held = False
        was = self.is_leader
        self._lease_until = expires if held else None
        metrics.SCHEDULER_LEADER.set(1 if held else 0)
        if held and not was:
            log.info("scheduler %s is now active", self.holder, extra={"holder": self.holder})
            # Catch up in a thread of its own, so the lease renewal never waits for it. Not a one-off
            # APScheduler job: its removal of a finished date job races a renewal that adds one while
            # the scheduler starts (JobLookupError in its loop). catch_up_bulletin runs one at a time.
            self._catch_up = threading.Thread(target=self.catch_up_bulletin, name="bulletin-catch-up", daemon=True)
            self._catch_up.start()
        elif was and not held:
            log.warning("scheduler %s lost leadership", self.holder, extra={"holder": self.holder})
        return held

    # -- firing ----------------------------------------------------------------------------------

    def dispatch(self) -> int:
        """Fire what is due while we lead. When the next deadline is closer than the next tick,
        wait for it here and fire it on time instead of up to a tick late."""
        if not self._running.acquire(blocking=False):
            return 0  # the previous run is still firing; it will see anything newly due
        try:
            total = 0
            while self.is_leader and not self._stopping.is_set():
                firings = fire_due(self.engine, limit=self.batch)
                total += sum(f.fired for f in firings)
                if len(firings) >= self.batch:
                    continue
                with self.engine.db.reader.connect() as conn:
                    nxt = deadline_store.next_due_at(conn)
                if nxt is None:
                    break
                wait = (nxt - to_utc(self.engine.clock.now())).total_seconds()
                if wait > self.tick_s:
                    break
                if wait > 0:
                    self._stopping.wait(wait + 0.001)
            self.fired += total
            return total
        finally:
            self._running.release()

    # -- weekly bulletin ---------------------------------------------------------------------------

    def weekly_bulletin(self) -> str | None:
        """The Monday job: generate the previous week's bulletin while we lead (replacing one made
        early by hand). Returns the week generated, None when standing by or on failure."""
        if not self.is_leader:
            return None
        week = weekly_bulletin.previous_week(self.engine.clock.now())
        try:
            weekly_bulletin.generate(self.engine, week, by="scheduler")
        except Exception:
            log.exception("the weekly bulletin of %s could not be generated", week)
            return None
        log.info("weekly bulletin of %s generated", week)
        return week

    def catch_up_bulletin(self) -> str | None:
        """On becoming active: the bulletin the last Monday 08:00 run was due to write, if missing."""
        if not self.is_leader or not self._catching_up.acquire(blocking=False):
            return None
        try:
            week = weekly_bulletin.previous_week(last_bulletin_run(self.engine.clock.now()))
            try:
                made = weekly_bulletin.generate_if_missing(self.engine, week, by="scheduler")
            except Exception:
                log.exception("the weekly bulletin of %s could not be generated", week)
                return None
        finally:
            self._catching_up.release()
        return week if made is not None else None

    # -- history checkpoints ---------------------------------------------------------------------

    def checkpoint(self):
        """The periodic job: sign a checkpoint of history while we lead, if it grew since the last.
        Returns the checkpoint, None when standing by, nothing was added, or on failure."""
        if not self.is_leader or self.checkpoints is None:
            return None
        try:
            cp = self.checkpoints.create(only_if_grown=True)
        except Exception:
            log.exception("the history checkpoint could not be written")
            return None
        if cp is not None:
            log.info("history checkpoint %s signed: %s events, root %s", cp.number, cp.tree_size, cp.root_hash,
                     extra={"checkpoint": cp.number, "tree_size": cp.tree_size})
        return cp

    # -- notifications ---------------------------------------------------------------------------

    def notify(self):
        """The periodic job: deliver due notifications (None on failure, logged)."""
        if self.notifier is None or self._stopping.is_set():
            return None
        try:
            return self.notifier.run_once()
        except Exception:
            log.exception("notifications could not be delivered")
            return None

    def run_connectors(self):
        """The periodic job: one round of the data-sharing connectors (None on failure, logged)."""
        if self.connectors is None or self._stopping.is_set():
            return None
        try:
            return self.connectors.run_once()
        except Exception:
            log.exception("the connectors could not run")
            return None

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self.renew()
        self._scheduler.add_job(self.renew, "interval", seconds=self.renew_every_s, id="lease")
        # Ticks that find a dispatch still running return at once (dispatch guards itself), so let
        # them start rather than have APScheduler skip them with a warning; the lease job keeps a
        # thread of its own.
        self._scheduler.add_job(self.dispatch, "interval", seconds=self.tick_s, id="dispatch",
                                next_run_time=datetime.now(SHANGHAI), max_instances=3)
        self._scheduler.add_job(self.engine.calendar.refresh_if_changed, "interval", seconds=30, id="calendar")
        self._scheduler.add_job(self.weekly_bulletin, bulletin_trigger(), id=BULLETIN_JOB)
        if self.checkpoints is not None and self.checkpoint_every_s > 0:
            self._scheduler.add_job(self.checkpoint, "interval", seconds=self.checkpoint_every_s, id=CHECKPOINT_JOB)
        if self.notifier is not None and self.notify_every_s > 0:
            self._scheduler.add_job(self.notify, "interval", seconds=self.notify_every_s, id=NOTIFY_JOB)
        if self.connectors is not None and self.connectors_every_s > 0:
            self._scheduler.add_job(self.run_connectors, "interval", seconds=self.connectors_every_s, id=CONNECTORS_JOB)
        self._scheduler.start()

    def job(self, job_id: str) -> Job | None:
        """One of the scheduler's APScheduler jobs (lease, dispatch, calendar, BULLETIN_JOB, CHECKPOINT_JOB,
        NOTIFY_JOB, CONNECTORS_JOB)."""
        return self._scheduler.get_job(job_id)

    def halt(self) -> None:
        """Stop running jobs at once and keep the lease, as a process that dies does: a standby
        takes over when the lease expires. `stop` is the orderly way."""
        self._scheduler.shutdown(wait=False)

    def stop(self) -> None:
        self._stopping.set()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        if self._catch_up is not None:
            self._catch_up.join(timeout=30)
        if self._lease_until is not None:
            with self.engine.db.writer.begin() as conn:
                deadline_store.release(conn, LEASE_NAME, self.holder)
            self._lease_until = None
        metrics.SCHEDULER_LEADER.set(0)


def bulletin_trigger() -> CronTrigger:
    hour, minute = BULLETIN_TIME
    return CronTrigger(day_of_week=BULLETIN_DAY, hour=hour, minute=minute, timezone=SHANGHAI)


def last_bulletin_run(now: datetime) -> datetime:
    """The latest Monday 08:00 (Asia/Shanghai) at or before `now`."""
    local = now.astimezone(SHANGHAI)
    hour, minute = BULLETIN_TIME
    run = (local - timedelta(days=(local.weekday() - BULLETIN_DAY) % 7)).replace(
        hour=hour, minute=minute, second=0, microsecond=0)
    return run if run <= local else run - timedelta(days=7)
