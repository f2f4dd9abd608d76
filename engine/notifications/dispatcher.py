"""The dispatcher: claims due outbox rows (safely beside other dispatchers, see
storage/outbox_store.claim), delivers each through its channel, and records the attempt: sent, or
pending again after an exponential backoff, or failed after `max_attempts` (administrators see
failed rows and may queue them again). It also raises the clerks' warning and overdue alerts of
open work that passed its warning or due time (one alert per work item and level, whether a
boundary timer's command or this scan queues it first). Runs as a scheduler job and from
`yijianshi notifications dispatch`."""
from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from datetime import timedelta

from yijianshi.engine.clock import Clock, to_utc
from yijianshi.engine.notifications import messages as m
from yijianshi.engine.notifications.channels import Channel
from yijianshi.storage import outbox_store
from yijianshi.storage.database import Database

log = logging.getLogger("yijianshi.notifications")


@dataclass(frozen=True)
class Outcome:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    alerts: int = 0


class Dispatcher:
    def __init__(self, db: Database, clock: Clock, channels: dict[str, Channel], *, max_attempts: int = 8,
                 backoff_s: float = 30.0, max_backoff_s: float = 6 * 3600.0, lease_s: float = 120.0,
                 holder: str | None = None, alert_every_s: float = 60.0):
        self.db, self.clock, self.channels = db, clock, channels
        self.max_attempts, self.backoff_s, self.max_backoff_s = max_attempts, backoff_s, max_backoff_s
        self.lease = timedelta(seconds=lease_s)
        self.alert_every_s = alert_every_s  # the warning/overdue scan reads every open work item past its time
        self._next_scan = 0.0
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    def retry_delay(self, attempts: int) -> timedelta:
        """The wait before attempt `attempts + 1`: backoff_s doubled per attempt made, capped."""
        return timedelta(seconds=min(self.backoff_s * 2 ** max(attempts - 1, 0), self.max_backoff_s))

    def run_once(self, limit: int = 100) -> Outcome:
        """Queue due alerts (at most every `alert_every_s`), then deliver what is due (up to `limit` rows)."""
        alerts = 0
        if time.monotonic() >= self._next_scan:
            self._next_scan = time.monotonic() + self.alert_every_s
            alerts = self.queue_alerts()
        now = to_utc(self.clock.now())
        with self.db.writer.begin() as conn:
            rows = outbox_store.claim(conn, now, self.holder, now + self.lease, limit)
        rows = self._with_texts(rows)
        sent = retried = failed = 0
        for row in rows:
            channel = self.channels.get(row.channel)
            try:
                if channel is None:
                    raise RuntimeError(f"未配置“{row.channel}”通道")
                note = channel.deliver(row)
            except Exception as err:  # every failure counts as an attempt; none stops the others
                attempts = row.attempts + 1
                retry_at = None if attempts >= self.max_attempts else to_utc(self.clock.now()) + self.retry_delay(attempts)
                with self.db.writer.begin() as conn:
                    outbox_store.attempt_failed(conn, row.id, self.holder, f"{type(err).__name__}: {err}", retry_at)
                log.warning("notification %s (%s) attempt %s failed: %s", row.id, row.channel, attempts, err,
                            extra={"outbox_id": row.id, "case_id": row.case_id})
                retried += retry_at is not None
                failed += retry_at is None
                continue
            with self.db.writer.begin() as conn:
                outbox_store.sent(conn, row.id, self.holder, to_utc(self.clock.now()), note)
            sent += 1
        return Outcome(sent, retried, failed, alerts)

    def _with_texts(self, rows: list) -> list:
        """The claimed rows, those queued without their texts (m.lean_payload) with them written out
        for the case's title now."""
        lean = [r for r in rows if m.is_lean(r.subject, r.payload_json)]
        if not lean:
            return rows
        with self.db.reader.connect() as conn:
            titles = {cid: outbox_store.case_title(conn, cid) for cid in {r.case_id for r in lean if r.case_id}}
        out: list = []
        for r in rows:
            if m.is_lean(r.subject, r.payload_json):
                subject, body = m.texts_of(r.kind, r.payload_json, titles.get(r.case_id) or "")
                r = SimpleNamespace(**{**r._mapping, "subject": subject, "body": body, "payload_json": None})
            out.append(r)
        return out

    def queue_alerts(self, limit: int = 500) -> int:
        """Warning and overdue alerts of open work items past those times (once each)."""
        now = to_utc(self.clock.now())
        queued = 0
        for level in (m.OVERDUE, m.WARNING):
            with self.db.writer.begin() as conn:
                rows = []
                for item in outbox_store.unalerted_work(conn, level, now, limit):
                    rows.append(dict(channel="inapp", kind=level, case_id=item.case_id, recipient=item.groups,
                                     subject="", body="", payload_json=m.lean_payload(item.name),
                                     dedupe_key=f"{level}:{item.id}",
                                     state="pending", attempts=0, next_attempt_at=now, created_at=now))
                outbox_store.add(conn, rows)
                queued += len(rows)
        return queued
