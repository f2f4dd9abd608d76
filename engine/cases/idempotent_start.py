"""Starting a case under an idempotency key: a retried request (same client, same key, same body)
gets the outcome of the first one and never starts a second case.

The key is recorded in the transaction that starts the case, under a primary key on (client, key).
A concurrent retry therefore either finds the record before it starts, or fails on inserting it
and rolls its own case back (on PostgreSQL its insert waits for the first transaction to commit; on
SQLite the writers queue), then answers with the recorded outcome."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Mapping

from sqlalchemy.exc import IntegrityError

from yijianshi.engine.access.api_clients import ApiClient
from yijianshi.engine.cases.commands import CaseService
from yijianshi.engine.cases.context import CaseSummary
from yijianshi.engine.errors import EngineError
from yijianshi.engine.cases.history import canonical_json
from yijianshi.storage import api_store
from yijianshi.storage.database import Database


class IdempotencyKeyReused(EngineError):
    """The key was used before by the same client for a different request."""


@dataclass(frozen=True)
class StartOutcome:
    case_id: int
    outcome: dict  # {"case_id", "status", "version", "opened": [{"id", "task_spec", "name"}]}
    replayed: bool


def fingerprint(request: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(request).encode("utf-8")).hexdigest()


def describe(summary: CaseSummary) -> dict:
    return {"case_id": summary.id, "status": summary.status, "version": summary.version,
            "opened": [{"id": r.id, "task_spec": r.task_spec, "name": r.name} for r in summary.ready]}


class IdempotentStarts:
    def __init__(self, db: Database, cases: CaseService):
        self.db = db
        self.cases = cases

    def start(self, client: ApiClient, key: str, request: Mapping[str, Any], **start_args) -> StartOutcome:
        """Start a case (CaseService.start_case with `start_args`) once per (client, key)."""
        print_ = fingerprint(request)
        earlier = self.recorded(client, key, print_)
        if earlier is not None:
            return earlier

        def record(conn, summary: CaseSummary) -> None:
            api_store.add_idempotency_key(conn, dict(
                client_id=client.id, key=key, fingerprint=print_, case_id=summary.id,
                outcome=canonical_json(describe(summary)), created_at=self.cases.clock.now()))

        try:
            summary = self.cases.start_case(actor=client.actor, within=record, **start_args)
        except IntegrityError:
            earlier = self.recorded(client, key, print_)
            if earlier is None:
                raise
            return earlier
        return StartOutcome(summary.id, describe(summary), replayed=False)

    def recorded(self, client: ApiClient, key: str, print_: str) -> StartOutcome | None:
        with self.db.reader.connect() as conn:
            row = api_store.idempotency_key(conn, client.id, key)
        if row is None:
            return None
        if row.fingerprint != print_:
            raise IdempotencyKeyReused(
                f"幂等键“{key}”已用于另一个不同内容的立案请求（案件 {row.case_id}）；重试请原样重发，新请求请换用新的幂等键。")
        return StartOutcome(row.case_id, json.loads(row.outcome), replayed=True)
