"""The channels that deliver an outbox row, each behind the same small interface (`deliver(row)`
returns an optional note, raises DeliveryError or any exception to have the row retried): in-app
(notification rows for the people a row names), e-mail (smtplib to the configured server), SMS (an
adapter interface; the shipped one posts JSON to an HTTP gateway) and the 12345 webhook (signed
JSON over HTTP). The revisit watch is a channel too: due when the hotline's time is up, it checks
whether the platform answered and otherwise tells the clerks."""
from __future__ import annotations

import smtplib
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from typing import Any, Protocol

from yijianshi.engine.access.accounts import FRONT_DESK, ROLES
from yijianshi.engine.access.actors import user_of
from yijianshi.engine.clock import Clock, to_utc
from yijianshi.engine.notifications import hotline
from yijianshi.engine.notifications import messages as m
from yijianshi.storage import case_store, notification_store
from yijianshi.storage.database import Database

TIMEOUT_S = 10.0


class DeliveryError(Exception):
    """A delivery that did not go through (retried until the attempts run out)."""


class Channel(Protocol):
    def deliver(self, row: Any) -> str | None: ...


class InApp:
    """Notification rows for every person a row names: `user:name` entries and the active members of
    the departments or roles it lists."""

    def __init__(self, db: Database, clock: Clock):
        self.db, self.clock = db, clock

    def deliver(self, row: Any) -> str | None:
        entries = [e.strip() for e in row.recipient.split(",") if e.strip()]
        named = {u for e in entries if (u := user_of(e)) is not None}
        groups = {e for e in entries if user_of(e) is None}
        with self.db.writer.begin() as conn:
            if notification_store.delivered(conn, row.id):  # an earlier attempt got this far, then died
                return "已送达"
            people = set()
            for name, role, departments in notification_store.active_accounts(conn):
                if name in named:
                    # what is meant for the applicant reaches the case's owner only if an applicant
                    # (a clerk who registered a request on someone's behalf is told nothing)
                    if row.kind not in m.APPLICANT_KINDS or (role in ROLES and ROLES[role].applicant):
                        people.add(name)
                elif groups & _groups_of(role, departments):
                    people.add(name)
            notification_store.add(conn, [dict(username=u, outbox_id=row.id, case_id=row.case_id, kind=row.kind,
                                               title=row.subject, body=row.body, created_at=to_utc(self.clock.now()),
                                               read_at=None) for u in sorted(people)])
        return f"{len(people)} 人"


def _groups_of(role: str, departments: str | None) -> set[str]:
    """The groups an account works for: its departments, and the front desk by role (as
    engine/access/accounts.Account.actor has it)."""
    return {d.strip() for d in (departments or "").split(",") if d.strip()} | ({FRONT_DESK} if role == FRONT_DESK else set())


class Email:
    """E-mail through an SMTP server (STARTTLS and a login when configured)."""

    def __init__(self, host: str, port: int, sender: str, user: str | None = None, password: str | None = None,
                 starttls: bool = False):
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password, self.starttls = user, password, starttls

    def deliver(self, row: Any) -> str | None:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender, row.recipient, row.subject
        msg.set_content(row.body)
        with smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_S) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(msg)
        return None


class SmsAdapter(Protocol):
    """What an SMS provider is to us: send one text to one mobile number (raise when it fails)."""

    def send(self, phone: str, text: str) -> None: ...


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST `body`; the status code of a 2xx answer, DeliveryError for anything else."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:  # noqa: S310 (configured URL)
            return answer.status
    except urllib.error.HTTPError as err:
        raise DeliveryError(f"HTTP {err.code}") from err
    except (urllib.error.URLError, OSError) as err:
        raise DeliveryError(f"连接失败：{err}") from err


class HttpSmsGateway:
    """The shipped SMS adapter: POST {"to", "text"} as JSON to a gateway URL (with a bearer token)."""

    def __init__(self, url: str, token: str | None = None):
        self.url, self.token = url, token

    def send(self, phone: str, text: str) -> None:
        import json

        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        post(self.url, json.dumps({"to": phone, "text": text}, ensure_ascii=False).encode(), headers)


class Sms:
    def __init__(self, adapter: SmsAdapter):
        self.adapter = adapter

    def deliver(self, row: Any) -> str | None:
        self.adapter.send(row.recipient, f"{row.subject} {row.body}")
        return None


class Webhook:
    """The 12345 platform's webhook: the row's JSON, signed (see hotline.py)."""

    def __init__(self, secret: str):
        self.secret = secret

    def deliver(self, row: Any) -> str | None:
        body = (row.payload_json or "{}").encode()
        timestamp = str(int(time.time()))
        status = post(row.recipient, body, {"Content-Type": "application/json",
                                            hotline.TIMESTAMP_HEADER: timestamp,
                                            hotline.SIGNATURE_HEADER: hotline.signature(self.secret, timestamp, body)})
        return f"HTTP {status}"


class RevisitWatch:
    """Due when the hotline's revisit time is up: if the case still waits for the revisit, record
    the timeout (this row's note) and queue an in-app notice to the clerks who answered."""

    def __init__(self, db: Database, clock: Clock):
        self.db, self.clock = db, clock

    def deliver(self, row: Any) -> str | None:
        from yijianshi.storage import outbox_store

        with self.db.writer.begin() as conn:
            if hotline.REVISIT_MESSAGE not in case_store.waits_of(conn, row.case_id):
                return "12345 平台已回访"
            now = to_utc(self.clock.now())
            outbox_store.add(conn, [dict(channel="inapp", kind=m.REVISIT_TIMEOUT, case_id=row.case_id,
                                         recipient=row.recipient or "hub", subject=row.subject, body=row.body,
                                         payload_json=None, dedupe_key=f"revisit_timeout:{row.id}", state="pending",
                                         attempts=0, next_attempt_at=now, created_at=now)])
        return "回访超时：已通知办理部门"
