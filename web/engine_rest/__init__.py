"""The Camunda 7 engine-rest subset under /engine-rest that real Camunda clients use: external task
workers (fetchAndLock with long polling, complete, failure, bpmnError, extendLock, unlock, retries),
starting a process by key, correlating a message, and listing, claiming and completing user tasks.
Authenticated like the integration API: an API client's token, as HTTP Basic (client name, token)
or as a bearer token. Errors are Camunda's JSON shape {"type": ..., "message": ...}."""
from __future__ import annotations

from yijianshi.web.engine_rest import external_task_routes, runtime_routes  # noqa: F401  (their routes join bp)
from yijianshi.web.engine_rest.blueprint import bp

__all__ = ["bp"]
