"""Structured JSON logs with the request id on every line, ID numbers masked and
credentials (join links, session and standby tokens) cut out."""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

from service.personal import mask_in_text

request_id: ContextVar[str] = ContextVar("request_id", default="-")

# A join link is a bearer credential, and so are the tokens a URL's query or a header may
# carry (a socket's ``?standby=``, a session cookie in a debug dump of a handshake's
# headers): whoever reads the log could act as that person. Every line is scrubbed of them,
# whichever library wrote it. The app's own request line names only the path.
_JOIN_PATH = re.compile(r"(/join/)[^\s\"'?#&/]+")
_CREDENTIAL_NAME = r"[\w.\-]*(?:token|standby|secret|password|key|session|auth)[\w.\-]*"
_SECRET_PARAM = re.compile(rf"((?:^|[?&;\s]){_CREDENTIAL_NAME}=)[^&;\s\"'#]+", re.IGNORECASE)
# The same names as keys of a mapping written out (an extra field, a JSON body).
_SECRET_ITEM = re.compile(rf"""(["']{_CREDENTIAL_NAME}["']\s*:\s*["'])[^"']+""", re.IGNORECASE)
_SECRET_HEADER = re.compile(
    r"((?:^|[\s<>])(?:cookie|set-cookie|authorization|x-csrf-token):[ \t]*)[^\r\n]+",
    re.IGNORECASE | re.MULTILINE,
)
# uvicorn's line for each WebSocket handshake ('"WebSocket /path?query" [accepted]'): the
# path alone, like the app's line for each HTTP request.
_SOCKET_QUERY = re.compile(r"(\"WebSocket [^\"?\s]*)\?[^\"\s]*")
REDACTED = "…"


def redact(text: str) -> str:
    """``text`` with resident ID numbers masked and credentials replaced by an ellipsis."""
    text = mask_in_text(text)
    if "/join/" in text:
        text = _JOIN_PATH.sub(rf"\g<1>{REDACTED}", text)
    if "=" in text:
        text = _SOCKET_QUERY.sub(r"\1", text)
        text = _SECRET_PARAM.sub(rf"\g<1>{REDACTED}", text)
    if ":" in text:
        text = _SECRET_HEADER.sub(rf"\g<1>{REDACTED}", text)
        text = _SECRET_ITEM.sub(rf"\g<1>{REDACTED}", text)
    return text


class ContextFilter(logging.Filter):
    """Adds the request id, and masks ID numbers and credentials wherever they slipped in."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        # Render the message now (whatever the shape of its arguments) and scrub the result.
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info:
            # A traceback may quote an ID (a database error echoes its parameters).
            record.exc_text = redact(_plain.formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        for key, value in list(record.__dict__.items()):
            if key in {"msg", "request_id", "exc_text"}:
                continue
            if isinstance(value, str):
                record.__dict__[key] = redact(value)
            elif isinstance(value, dict | list | tuple):
                record.__dict__[key] = redact(str(value))
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
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # One line per request, the app's (service/app.py): uvicorn's access line would repeat it
    # with the full URL. With no handler anywhere above it, uvicorn does not even format one.
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = False
