"""The connector runner: an external-task worker inside the app. Each round it fetches and locks the
tasks of the topics it serves through the engine's own ExternalTaskService (no HTTP to itself), asks
the register the topic is mapped to, and completes the task with the answer; a register that fails
(an error status, a malformed answer, no answer within the timeout) is a failure with the retries
counted down and the task held back for a backoff that doubles each time; at 0 retries the case has
an incident (it shows among the stuck cases for the administrators, who give it retries again).

What a task gives the connector and gets back (camunda:inputOutput maps them to the item's names):
    in:  registry_key         the number to look up: an ID number, or a credit code for `licence`
    out: registry_found       True / False
         registry_record      the register's fields (an empty object when not found)
         registry_checked_at  when it was asked (ISO 8601)"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Mapping

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.cases.external_tasks import ExternalTaskService, LockedTask, TopicRequest
from yijianshi.engine.connectors.registry import Registry

log = logging.getLogger("yijianshi.connectors")
CONNECTOR_ACTOR = Actor(id="connectors", name="数据共享核验（自动）")
WORKER_ID = "yijianshi-connectors"
KEY = "registry_key"


@dataclass
class RunOutcome:
    completed: int = 0
    failed: int = 0
    incidents: int = 0


class ConnectorRunner:
    def __init__(self, external_tasks: ExternalTaskService, registry: Registry, topics: Mapping[str, str], *,
                 retries: int = 3, backoff_s: float = 30.0, lock_ms: int = 60_000, max_tasks: int = 20,
                 worker_id: str = WORKER_ID):
        if retries < 1:
            raise ValueError("connector retries must be at least 1")
        self.external_tasks = external_tasks
        self.registry = registry
        self.topics = dict(topics)  # topic -> register
        self.retries, self.backoff_s = retries, backoff_s
        self.lock_ms, self.max_tasks, self.worker_id = lock_ms, max_tasks, worker_id

    def run_once(self) -> RunOutcome:
        """One round: every free task of the served topics (up to max_tasks) is looked up and
        completed, or reported as a failure."""
        outcome = RunOutcome()
        if not self.topics:
            return outcome
        requests = [TopicRequest(topic, self.lock_ms) for topic in sorted(self.topics)]
        for task in self.external_tasks.fetch_and_lock(self.worker_id, self.max_tasks, requests):
            try:
                self._serve(task, outcome)
            except Exception:  # one broken case must not stop the others
                log.exception("external task %s (topic %s) could not be handled", task.row.id, task.row.topic,
                              extra={"case_id": task.row.case_id})
        return outcome

    def _serve(self, task: LockedTask, outcome: RunOutcome) -> None:
        row = task.row
        register = self.topics[row.topic]
        key = str(task.variables.get(KEY) or "").strip()
        checked_at = self.external_tasks.clock.now().isoformat()
        if not key:
            self.external_tasks.complete(row.id, self.worker_id, {
                "registry_found": False, "registry_record": {}, "registry_checked_at": checked_at,
                "registry_note": "未提供核验所需的证件号码或统一社会信用代码"}, CONNECTOR_ACTOR)
            outcome.completed += 1
            return
        query = {"credit_code" if register == "licence" else "id_no": key}
        try:
            answer = self.registry.lookup(register, query)
        except Exception as e:
            self._failed(row, str(e) or type(e).__name__, outcome)
            return
        variables: dict[str, Any] = {"registry_found": answer.found, "registry_record": answer.record,
                                     "registry_checked_at": checked_at}
        self.external_tasks.complete(row.id, self.worker_id, variables, CONNECTOR_ACTOR)
        outcome.completed += 1

    def _failed(self, row: Any, message: str, outcome: RunOutcome) -> None:
        left = max((row.retries if row.retries is not None else self.retries) - 1, 0)
        attempt = self.retries - left  # 1 after the first failure
        backoff_ms = int(self.backoff_s * 1000 * 2 ** max(attempt - 1, 0)) if left else 0
        self.external_tasks.handle_failure(row.id, self.worker_id, message, None, left, backoff_ms, CONNECTOR_ACTOR)
        outcome.failed += 1
        if left == 0:
            outcome.incidents += 1
            log.warning("external task %s (topic %s): retries exhausted, incident: %s", row.id, row.topic, message,
                        extra={"case_id": row.case_id})
