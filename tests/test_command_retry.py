"""Which failures of a command are lost races (run again, never shown) — whether SQLAlchemy wrapped
the driver's error or a prepared statement raised it directly."""
from __future__ import annotations

import sqlite3

import psycopg.errors
from sqlalchemy.exc import IntegrityError, OperationalError

from yijianshi.engine.cases.retry import is_unique_violation, is_write_conflict


def test_driver_errors_raised_directly():
    assert is_write_conflict(sqlite3.OperationalError("database is locked"))
    assert is_write_conflict(psycopg.errors.DeadlockDetected("deadlock detected"))
    assert is_write_conflict(psycopg.errors.SerializationFailure("could not serialize access"))
    taken = sqlite3.IntegrityError("UNIQUE constraint failed: events.case_id, events.seq")
    assert is_unique_violation(taken) and is_write_conflict(taken)
    pg_taken = psycopg.errors.UniqueViolation('duplicate key value violates unique constraint "uq_events_case_seq"')
    assert is_unique_violation(pg_taken) and is_write_conflict(pg_taken)


def test_the_same_errors_wrapped_by_sqlalchemy():
    assert is_write_conflict(OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked")))
    wrapped = IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed: events.case_id, events.seq"))
    assert is_write_conflict(wrapped)


def test_real_failures_are_not_retried():
    assert not is_write_conflict(sqlite3.OperationalError("no such table: cases"))
    assert not is_write_conflict(sqlite3.IntegrityError("NOT NULL constraint failed: cases.title"))
    assert not is_write_conflict(psycopg.errors.UndefinedTable("relation does not exist"))
    # a duplicate work item is a race only if the case moved on (the command checks that itself)
    duplicate_item = sqlite3.IntegrityError("UNIQUE constraint failed: work_items.id")
    assert is_unique_violation(duplicate_item) and not is_write_conflict(duplicate_item)
    assert not is_write_conflict(ValueError("database is locked"))
