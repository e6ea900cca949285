"""Structured JSON logs with the request id on every line and ID numbers masked."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

from service.personal import mask_in_text

request_id: ContextVar[str] = ContextVar("request_id", default="-")


class ContextFilter(logging.Filter):
    """Adds the request id, and masks resident ID numbers wherever they slipped in."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        # Render the message now (whatever the shape of its arguments) and mask the result.
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):
            message = str(record.msg)
        record.msg, record.args = mask_in_text(message), None
        if record.exc_info:
            # A traceback may quote an ID (a database error echoes its parameters).
            record.exc_text = mask_in_text(_plain.formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = mask_in_text(record.exc_text)
        for key, value in list(record.__dict__.items()):
            if key in {"msg", "request_id", "exc_text"}:
                continue
            if isinstance(value, str):
                record.__dict__[key] = mask_in_text(value)
            elif isinstance(value, dict | list | tuple):
                record.__dict__[key] = mask_in_text(str(value))
        return True


_plain = logging.Formatter()


def configure(level: str = "INFO", *, json_lines: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    if json_lines:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Alembic announces its dialect on every connection check; operators need only problems.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
