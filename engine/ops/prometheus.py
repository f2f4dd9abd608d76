"""Prometheus metrics of the engine: deadline lateness and scheduler leadership, measured where they
happen, and work-item and deadline gauges read from the projections when Prometheus scrapes.

The measured metrics live in prometheus_client's default registry; under gunicorn with
PROMETHEUS_MULTIPROC_DIR set they are written per process and summed at scrape time (see
web/metrics.py). The gauges read from the database are computed by the process that answers the
scrape, so they need no aggregation."""
from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

from yijianshi.engine.clock import to_utc
from yijianshi.engine.deadlines.lease import LEASE_NAME
from yijianshi.storage import deadline_store
from yijianshi.storage import health_store

log = logging.getLogger("yijianshi.metrics")

DEADLINE_LATENESS = Histogram(
    "yijianshi_deadline_lateness_seconds",
    "How long after its due time the scheduler fired a deadline (timer, warning or overdue)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, 86400, float("inf")))
DEADLINES_FIRED = Counter("yijianshi_deadlines_fired", "Deadlines fired by the scheduler")
SCHEDULER_LEADER = Gauge(
    "yijianshi_scheduler_leader", "1 while the deadline scheduler in this process is the active one",
    multiprocess_mode="livemax")


def observe_firing(lateness_s: float) -> None:
    DEADLINES_FIRED.inc()
    DEADLINE_LATENESS.observe(max(0.0, lateness_s))


class ProjectionCollector:
    """Gauges computed at scrape time from the indexed projections (never from case state)."""

    def __init__(self, engine):
        self.engine = engine

    def describe(self):
        return []  # computed on demand; nothing to check for duplicates at registration

    def collect(self):
        now = to_utc(self.engine.clock.now())
        try:
            with self.engine.db.reader.connect() as conn:
                open_, warning, overdue = health_store.open_work_item_counts(conn, now)
                armed = health_store.deadline_counts(conn)
                lease = deadline_store.holder_of(conn, LEASE_NAME)
        except Exception as err:  # a scrape must not fail because the database is away
            log.warning("metrics: database unavailable: %s", err)
            yield GaugeMetricFamily("yijianshi_database_up", "1 when the database answered this scrape", 0)
            return
        yield GaugeMetricFamily("yijianshi_database_up", "1 when the database answered this scrape", 1)
        yield GaugeMetricFamily("yijianshi_work_items_open", "Ready (open) work items", open_)
        yield GaugeMetricFamily("yijianshi_work_items_warning",
                                "Open work items past their warning time, not yet overdue", warning)
        yield GaugeMetricFamily("yijianshi_work_items_overdue", "Open work items past their due time",
                                overdue)
        family = GaugeMetricFamily("yijianshi_deadlines", "Deadlines not yet fired, by state",
                                   labels=["state"])
        for state, n in armed.items():
            family.add_metric([state], n)
        yield family
        held = lease is not None and lease.expires_at > now
        yield GaugeMetricFamily("yijianshi_scheduler_lease_held",
                                "1 when some deadline scheduler holds an unexpired lease", int(held))
        if lease is not None:
            yield GaugeMetricFamily("yijianshi_scheduler_lease_expires_in_seconds",
                                    "Seconds until the scheduler lease expires (negative: expired)",
                                    (lease.expires_at - now).total_seconds())
