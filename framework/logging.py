"""Logs as one JSON object per line on stdout, each with the request it belongs to.

The standard library's logging carries everything: Django's loggers, gunicorn's, and
Rolebook's own (`rolebook.request`, `rolebook.review`, `rolebook.import`,
`rolebook.notifications`). `JsonFormatter` writes each record as one line of JSON with the
time, level, logger, message, the request id of the request being served (a ContextVar set by
`framework.requestlog.RequestLogMiddleware`), the user id where the line names one, and any `extra=` fields.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

# The request being served in this thread (or task): set and reset by the request middleware.
request_id_var: ContextVar[str | None] = ContextVar("rolebook_request_id", default=None)

# Attributes every LogRecord has: anything else on a record came from `extra=` and is logged.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
# Django's request loggers attach the request and server objects: not JSON, and not for logs.
_SKIPPED = {"request", "server_time", "server"}


class JsonFormatter(logging.Formatter):
    """Format a record as one line of JSON: time, level, logger, message, request_id, user_id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in _SKIPPED and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def logging_config(level: str = "INFO") -> dict:
    """The LOGGING setting: everything to stdout as JSON lines, at `level` and above."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "framework.logging.JsonFormatter"}},
        "handlers": {
            "stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "json"},
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            # Our request line replaces Django's own for 4xx/5xx (same facts, plus the traceback once).
            "django.server": {"level": "WARNING"},
            # django-axes says hello at every start-up; its lockout lines (axes.*) stay.
            "axes.apps": {"level": "WARNING"},
        },
    }
