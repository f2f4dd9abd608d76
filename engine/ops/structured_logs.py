"""Structured logs: one JSON object per line (time, level, logger, message, and the case, work item
and actor a line is about when known), for the web app, the scheduler and the command line alike.

Who and what a line is about comes from two places: `extra={"case_id": ...}` on the call, and the
context bound around a piece of work (`bound(actor=..., request_id=...)`, set by the web app per
request), so that library code deep down need not pass them along.

Settings (engine/settings.py, passed in by the entry point): YIJIANSHI_LOG_FORMAT=json|text (default
json), YIJIANSHI_LOG_LEVEL (default INFO for the server and scheduler, WARNING for the other commands)."""
from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

import orjson

# The fields a line may carry besides the basics, in the order they are written.
CONTEXT_FIELDS = ("case_id", "work_item_id", "actor", "event", "deadline_id", "request_id", "method", "path",
                  "endpoint", "status", "duration_ms", "holder")
_context: ContextVar[dict[str, Any] | None] = ContextVar("yijianshi_log_context", default=None)
_HANDLER_NAME = "yijianshi"


@contextlib.contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Add fields to every log line written inside the block (in this thread or task)."""
    token = _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any):
    """Like `bound`, for callers that cannot use a with-block (a request's start and end); returns a
    token for `unbind`."""
    return _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}})


def unbind(token) -> None:
    _context.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = _context.get() or {}
        for name in CONTEXT_FIELDS:
            value = record.__dict__.get(name, context.get(name))
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode("utf-8")


class TextFormatter(logging.Formatter):
    """For a person at a terminal: the same fields as key=value after the message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = _context.get() or {}
        pairs = [f"{n}={record.__dict__.get(n, context.get(n))}" for n in CONTEXT_FIELDS
                 if record.__dict__.get(n, context.get(n)) is not None]
        return f"{text} {' '.join(pairs)}" if pairs else text


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is written (a test harness swaps it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure(default_level: str = "INFO", *, stream=None, fmt: str | None = None,
              level: str | None = None) -> logging.Handler:
    """Send every log line of the process to one handler (stderr by default). Idempotent: calling it
    again replaces the handler it installed before, leaving other handlers alone. `fmt` and `level`
    are the settings' log_format and log_level; without a level, `default_level`."""
    fmt = (fmt or "json").lower()
    level = (level or default_level).upper()
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(TextFormatter() if fmt == "text" else JsonFormatter())
    # What the formatters never write is not gathered either (the logging docs' "Optimization"):
    # the caller's file and line (a walk up the stack on every line), thread and process names.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # APScheduler reports every job run at INFO; only its warnings are worth a line.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
    # SpiffWorkflow writes a line at INFO for every task state change ("State changed to READY");
    # the history table records what happened, so only its warnings are kept.
    logging.getLogger("spiff").setLevel(max(logging.WARNING, root.level))
    # The web app writes its own line per request (web/operations.py); the development server's
    # access log would repeat it as plain text.
    logging.getLogger("werkzeug").setLevel(max(logging.WARNING, root.level))
    return handler


def configure_from(settings, default_level: str = "INFO", *, stream=None) -> logging.Handler:
    """`configure` with the format and level of the settings (engine/settings.py)."""
    return configure(default_level, stream=stream, fmt=settings.log_format, level=settings.log_level)
