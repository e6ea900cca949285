"""A small publish/subscribe hub: how one domain hears of another's events without importing it.

A message is a topic and a JSON object of plain values (ids and numbers, never a row or a
credential), published once the transaction that made the news has committed. The backend
here delivers within this process. It is shaped for a PostgreSQL LISTEN/NOTIFY backend that
carries the same messages between processes: a topic is a channel name, a message is
serialised to JSON and bounded to NOTIFY's payload limit, and delivery is at most once, so
subscribers read the record for anything they must not miss.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

log = logging.getLogger("mediation.hub")

Message = dict[str, Any]
Handler = Callable[[Message], Awaitable[None]]

# Topics in use: a saved agreement version or a change of its state, for the case's meeting.
AGREEMENT_TOPIC = "agreement_version"

# PostgreSQL's NOTIFY payload limit is 8000 bytes; a channel is an identifier.
MAX_PAYLOAD = 7900
_TOPIC = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class Backend(Protocol):
    """Carries serialised messages to every process's ``deliver``."""

    async def send(self, topic: str, payload: str) -> None: ...


class Hub:
    """Subscribers by topic; ``publish`` hands a message to the backend, which hands it
    back to ``deliver`` in each process (here, this one)."""

    def __init__(self, backend: Backend | None = None) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        self._backend: Backend = backend or _Local(self)
        self._tasks: set[asyncio.Task[None]] = set()

    def subscribe(self, topic: str, handler: Handler) -> Callable[[], None]:
        """Calls ``handler`` with each message on ``topic``; returns the unsubscriber."""
        _check_topic(topic)
        handlers = self._handlers.setdefault(topic, [])
        handlers.append(handler)

        def unsubscribe() -> None:
            if handler in handlers:
                handlers.remove(handler)

        return unsubscribe

    async def publish(self, topic: str, message: Message) -> None:
        """Send ``message`` to the topic's subscribers (in every process, with a backend
        that spans them). Call it after the commit: a subscriber may read the record."""
        _check_topic(topic)
        payload = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        if len(payload.encode()) > MAX_PAYLOAD:
            raise ValueError(f"a {topic} message of {len(payload)} characters is too long")
        await self._backend.send(topic, payload)

    async def deliver(self, topic: str, payload: str) -> None:
        """A message arrived from the backend: each subscriber runs on its own, so a slow or
        failing one delays or breaks no other (a failure is logged with the topic)."""
        message = json.loads(payload)
        for handler in list(self._handlers.get(topic, ())):
            task = asyncio.create_task(_run(handler, topic, message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the deliveries under way (shutdown, and tests that read their effect)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


class _Local:
    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    async def send(self, topic: str, payload: str) -> None:
        await self._hub.deliver(topic, payload)


async def _run(handler: Handler, topic: str, message: Message) -> None:
    try:
        await handler(message)
    except Exception:
        log.exception("a subscriber failed", extra={"topic": topic})


def _check_topic(topic: str) -> None:
    if not _TOPIC.match(topic):
        raise ValueError(f"{topic!r} is not a topic name (lower-case letters, digits, _)")
