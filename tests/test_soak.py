"""A short soak on the production shape, with faults (bench/soak.py): PostgreSQL, gunicorn with three
workers, two schedulers, a dozen clerks over HTTP for a minute while deadlines of a few seconds fall
due; a gunicorn worker is killed twice and the active scheduler once. Nothing acknowledged may be
lost or doubled, every deadline that fell due must have fired exactly once, and every case must
verify and re-execute. The full run (50 clients, several minutes) is `python bench/soak.py --faults`."""
from __future__ import annotations

import pytest

from bench.soak import run_soak

LEASE_TTL = 3.0


@pytest.mark.soak
def test_short_soak_with_faults_on_postgresql(pg_url, tmp_path):
    lines = []
    result = run_soak(duration=60, clients=12, workers=3, faults=True, lease_ttl=LEASE_TTL, home=tmp_path,
                      url=pg_url, say=lines.append)
    print("\n".join(lines + [result.final_line]))
    assert (result.lost, result.duplicates, result.verify_failures) == (0, 0, 0), "\n".join(lines)
    assert result.server_errors == 0, "\n".join(lines)
    # The load was real: work got done across many cases, deadlines fired, and the faults happened.
    assert result.acknowledged >= 100 and result.cases_completed >= 10
    assert result.deadlines_fired >= 20
    assert len(result.faults) == 3 and result.workers_replaced == 2
    # The standby scheduler took over from the killed one within about a lease.
    assert result.takeover_s is not None and result.takeover_s <= LEASE_TTL * 2 + 2
    assert sum(len(c.acks) for c in result.clients) == result.acknowledged
    journals = sorted(tmp_path.glob("clients/client-*.jsonl"))
    assert len(journals) == 12
    assert sum(len(p.read_text().splitlines()) for p in journals) == result.acknowledged
