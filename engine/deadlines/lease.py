"""The scheduler lease: the database row that makes one deadline scheduler the active one across
processes. The scheduler takes and renews it; health checks, metrics, backups and `yijianshi stack`
read who holds it."""
from __future__ import annotations

LEASE_NAME = "deadlines"
