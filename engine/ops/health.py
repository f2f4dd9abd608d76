"""Is this deployment alive: the database answers, and a deadline scheduler (in this process or
another) has renewed its lease recently. `serve --no-scheduler` deployments run `yijianshi
scheduler` separately, so the lease row in the database is the one place that knows."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from yijianshi.engine.clock import to_utc
from yijianshi.engine.deadlines.lease import LEASE_NAME
from yijianshi.storage import deadline_store
from yijianshi.storage import health_store

log = logging.getLogger("yijianshi.health")


@dataclass
class Health:
    ok: bool
    details: dict[str, Any] = field(default_factory=dict)


def check(engine, scheduler_stale_after_s: float) -> Health:
    """The database must answer; unless `scheduler_stale_after_s` is 0, the scheduler lease must
    have been valid within the last `scheduler_stale_after_s` seconds (a renewal keeps it valid for
    one lease period, so a few periods of grace tolerate a hand-over between schedulers)."""
    details: dict[str, Any] = {}
    try:
        with engine.db.reader.connect() as conn:
            health_store.ping(conn)
            lease = deadline_store.holder_of(conn, LEASE_NAME)
    except Exception as err:  # whatever the driver raises, the answer is "database unavailable"
        log.warning("health check: database unavailable: %s", err)
        details["status"] = "unavailable"
        details["database"] = f"unavailable: {type(err).__name__}"
        details["scheduler"] = {"status": "unknown"}
        return Health(False, details)
    details["database"] = "ok"
    scheduler = _scheduler(engine, lease, scheduler_stale_after_s)
    details["scheduler"] = scheduler
    ok = scheduler["status"] in ("active", "not checked")
    details["status"] = "ok" if ok else "unavailable"
    return Health(ok, details)


def _scheduler(engine, lease, stale_after_s: float) -> dict[str, Any]:
    if stale_after_s <= 0:
        return {"status": "not checked"}
    if lease is None:
        return {"status": "missing", "message": "no deadline scheduler has ever run on this database"}
    now = to_utc(engine.clock.now())
    expires_in = (lease.expires_at - now).total_seconds()
    info = {"holder": lease.holder, "lease_expires_at": lease.expires_at.isoformat(),
            "lease_expires_in_s": round(expires_in, 3), "stale_after_s": stale_after_s}
    if expires_in > -stale_after_s:
        return {"status": "active", **info}
    return {"status": "stale", **info,
            "message": f"no scheduler has renewed its lease for more than {stale_after_s:g} s"}
