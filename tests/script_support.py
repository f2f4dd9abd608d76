"""What the script worker tests share: waiting for a condition on another process, and a pool of
workers with a 0.6 s CPU limit and the isolated environment over it."""
from __future__ import annotations

import time

import pytest

from yijianshi.engine.clock import ControlledClock
from yijianshi.engine.modeling.lint.time_expressions import _BundledCalendar
from yijianshi.engine.scripting.isolated import IsolatedEnvironment
from yijianshi.engine.scripting.worker_pool import ScriptLimits, ScriptWorkerPool


def wait_for(condition, timeout: float = 10.0):
    """The condition's first true value within `timeout` seconds (checked every 10 ms), else its
    value at the end."""
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    return condition()


@pytest.fixture
def pool():
    pool = ScriptWorkerPool(ScriptLimits(cpu_seconds=0.6, memory_mb=256, max_workers=4))
    yield pool
    pool.close()


@pytest.fixture
def env(pool):
    return IsolatedEnvironment(ControlledClock(), _BundledCalendar(), pool.limits, pool)
