"""Failed commands and stuck cases. A command that fails for a reason of the system's (a script error,
a broken process, an unexpected fault) rather than refusing a person (a form error, no permission,
work already done) is recorded with its error in a transaction of its own, the failed one having
rolled back (its lookups first, without the write lock). A running case with a failure on its current version is stuck: nothing has moved it
since. Administrators retry it (fire its due deadlines again, which is what a scheduler retries; give
external tasks out of retries one attempt more) or cancel it with a reason."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from yijianshi.engine.access.actors import SYSTEM, Actor
from yijianshi.engine.clock import to_utc
from yijianshi.engine.errors import (
    AmbiguousCorrelation,
    FormErrors,
    NotFound,
    NotPermitted,
    WorkItemUnavailable,
)
from yijianshi.storage import deadline_store, external_task_store, failure_store

log = logging.getLogger("yijianshi.cases")
REFUSALS = (FormErrors, NotPermitted, NotFound, WorkItemUnavailable, AmbiguousCorrelation)
MAX_ERROR = 2000


def is_failure(err: BaseException) -> bool:
    """An error of the system's, not a refusal of what someone asked."""
    return isinstance(err, Exception) and not isinstance(err, REFUSALS)


def record_failure(db, clock, case_id: int, command: str, actor: Actor, err: BaseException,
                   work_item_id: str | None = None) -> None:
    """Write the failure down; never raises (the command's own error is what the caller sees)."""
    if not is_failure(err):
        return
    error = f"{type(err).__name__}: {err}"[:MAX_ERROR]
    values = dict(case_id=case_id, command=command[:64], work_item_id=work_item_id, actor=actor.id[:255],
                  error=error, failed_at=to_utc(clock.now()))
    try:
        # Read without the write lock, then write one statement: a failing case (a hostile script
        # failing again and again, say) holds other writers up as briefly as can be. Should a
        # command change the case in between, the failure stays on the version it failed on.
        with db.reader.connect() as conn:
            found = failure_store.prior(conn, values)
        if found is not None:
            with db.writer.begin() as conn:
                failure_store.write(conn, values, *found)
    except Exception:  # the database itself may be what failed
        log.exception("could not record the failure of %s on case %s", command, case_id)


def command_name(body) -> str:
    """The CaseService method a command body belongs to (its qualified name: Class.method.<locals>...)."""
    parts = getattr(body, "__qualname__", "").split(".")
    return parts[1] if len(parts) > 2 and parts[2] == "<locals>" else parts[0] or "command"


@dataclass(frozen=True)
class RetryResult:
    fired: int  # due deadlines fired again
    still_stuck: bool
    external_tasks: int = 0  # external tasks out of retries given one attempt more


def retry(engine, case_id: int, actor: Actor = SYSTEM) -> RetryResult:
    """Run again what failed without anyone's input: the case's due deadlines (a broken timer, a
    boundary event), and its external tasks whose workers used up their retries (an incident: one
    attempt more, a worker takes it again). A step someone submitted must be submitted again by them."""
    now = to_utc(engine.clock.now())
    with engine.db.reader.connect() as conn:
        due = [d.id for d in deadline_store.of_case(conn, case_id, ("armed",)) if d.due_at < now]
        incidents = [t.id for t in external_task_store.of_case(conn, case_id) if t.retries == 0]
    for task_id in incidents:
        engine.external_tasks.set_retries(task_id, 1, actor)
    fired = 0
    for deadline_id in due:
        try:
            if engine.cases.fire_deadline(deadline_id) is not None:
                fired += 1
        except Exception:  # recorded by the command; the case stays in the list
            log.info("retry of deadline %s of case %s failed again", deadline_id, case_id)
    with engine.db.reader.connect() as conn:
        still = any(r.id == case_id for r in failure_store.stuck_cases(conn))
    return RetryResult(fired, still, len(incidents))


def stuck_cases(engine) -> list:
    with engine.db.reader.connect() as conn:
        return failure_store.stuck_cases(conn)


def failures_of(engine, case_id: int) -> list:
    with engine.db.reader.connect() as conn:
        return failure_store.failures_of(conn, case_id)
