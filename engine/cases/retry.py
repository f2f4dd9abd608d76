"""Which failures of a case command are lost races to run again (never shown to users), and how
long to wait before the next attempt."""
from __future__ import annotations

import random
import sqlite3
import time

# PostgreSQL SQLSTATEs: deadlock_detected, serialization_failure, unique_violation
_RETRY_STATES = {"40P01", "40001"}
_UNIQUE_VIOLATION = "23505"


def _driver_error(err: Exception) -> Exception:
    """The database driver's own exception: SQLAlchemy wraps it as `.orig`; the prepared hot-path
    statements (storage/prepared.py) raise it directly."""
    return getattr(err, "orig", None) or err


def is_unique_violation(err: Exception) -> bool:
    orig = _driver_error(err)
    if getattr(orig, "sqlstate", None) == _UNIQUE_VIOLATION:
        return True
    return isinstance(orig, sqlite3.IntegrityError) and "UNIQUE" in str(orig)


def is_write_conflict(err: Exception) -> bool:
    """Another command on the same case won: the history sequence taken ('uq_events_case_seq'), a
    deadlock or serialization failure on PostgreSQL, 'database is locked' on SQLite."""
    orig = _driver_error(err)
    if getattr(orig, "sqlstate", None) in _RETRY_STATES:
        return True
    if is_unique_violation(err) and "events" in str(orig):
        return True
    if isinstance(orig, sqlite3.OperationalError):
        text = str(orig).lower()
        return "locked" in text or "busy" in text
    return False


def backoff(attempt: int) -> None:
    time.sleep(min(0.2, 0.002 * (2 ** min(attempt, 6))) * random.random())
