"""The connectors as the settings configure them: no registry URL, no runner (registry checks wait
for a worker, e.g. one outside over /engine-rest); `demo`, the built-in demo register; else the
registers over HTTP at that URL."""
from __future__ import annotations

from yijianshi.engine.connectors.registry import DEMO, DemoRegistry, HttpRegistry, Registry
from yijianshi.engine.connectors.runner import ConnectorRunner
from yijianshi.engine.settings import Settings


def registry(settings: Settings) -> Registry | None:
    if not settings.registry_url:
        return None
    if settings.registry_url.strip().lower() == DEMO:
        return DemoRegistry()
    return HttpRegistry(settings.registry_url, settings.registry_timeout_seconds, settings.registry_token)


def runner(engine, settings: Settings) -> ConnectorRunner | None:
    """The connector runner of an engine, or None when no register is configured."""
    found = registry(settings)
    if found is None:
        return None
    return ConnectorRunner(engine.external_tasks, found, dict(settings.connector_topics),
                           retries=settings.connector_retries, backoff_s=settings.connector_backoff_seconds)
