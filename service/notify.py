"""Telling people things outside the page they have open: one interface, several channels.

A domain builds ``Notice``s (who, what, about which case) and hands them to the app's
``Notifier`` (``notifier_of(app)``); the notifier gives each to every configured channel
(``NotifySettings.channels``). The console channel, the default, writes one INFO line per
notice on logger ``mediation.notify``; email over SMTP and an SMS gateway are configurable
(service/notify_channels.py), and every notice to a party is also kept in-app for their case
page, whatever is configured.

A notice never carries a credential: its link is a page the person opens with their own
session (a party's case page, not their join link), and a channel that needs an address
(a phone number, an email address) takes it from the recipient, never writing it to a log.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from service.i18n import gettext
from service.logs import redact

if TYPE_CHECKING:
    from fastapi import FastAPI

    from service.settings import Settings

log = logging.getLogger("mediation.notify")


@dataclass(frozen=True)
class Recipient:
    """Someone to tell: a party of a case or a member of staff. ``phone`` is for a channel
    that texts (none yet); it is personal data, and no log line carries it."""

    kind: Literal["party", "staff"]
    id: int
    name: str
    phone: str | None = field(default=None, repr=False)
    language: str = "zh_Hans"
    email: str | None = field(default=None, repr=False)

    @property
    def ref(self) -> str:
        """How logs and records name the recipient: ``party-12``, ``staff-3``."""
        return f"{self.kind}-{self.id}"


@dataclass(frozen=True)
class Attachment:
    """A file that goes with a notice where the channel can carry one (an email's .ics)."""

    filename: str
    media_type: str
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class Notice:
    """One message to one person. ``message`` is an English msgid with ``{placeholders}``
    filled from ``params``, shown in the recipient's language; ``topic`` says what it is
    about (``room.scheduled``, ``room.reminder``), for channels that sort or template by it;
    ``url`` is a page without a credential in it."""

    recipient: Recipient
    topic: str
    case_number: str
    message: str
    params: Mapping[str, str | int] = field(default_factory=dict)
    url: str | None = None
    attachments: tuple[Attachment, ...] = ()

    def __post_init__(self) -> None:
        if self.url is not None and ("/join/" in self.url or "?" in self.url):
            # A join link or a query (where tokens travel) would put a credential into
            # every channel's copy, and into the console channel's log.
            raise ValueError("a notice's link must be a page without a credential in it")

    def text(self) -> str:
        return gettext(self.recipient.language, self.message, **self.params)


@dataclass(frozen=True)
class Delivery:
    """What became of one notice on one channel; ``error`` names the exception's class."""

    channel: str
    recipient: str
    topic: str
    ok: bool
    error: str | None = None


class Channel(Protocol):
    name: str

    async def deliver(self, notice: Notice) -> None:
        """Send it, or raise: the notifier records the failure and goes on to the next."""


class Notifier(Protocol):
    """What domains call. ``notify`` never raises for a channel's failure: it returns one
    ``Delivery`` per notice and channel, so that the caller can record what went out."""

    async def notify(self, notices: Sequence[Notice]) -> list[Delivery]: ...


class ConsoleChannel:
    """A log line per notice, at INFO on ``mediation.notify``: the operator's view of what
    would be sent. It names the recipient by reference (``party-12``) and carries the text
    and the link, which hold no credential; the recipient's name and phone stay out."""

    name = "console"

    async def deliver(self, notice: Notice) -> None:
        line = redact(notice.text())  # ID numbers masked even if one slipped into a param
        log.info(
            "notice %s to %s (case %s): %s%s",
            notice.topic,
            notice.recipient.ref,
            notice.case_number,
            line,
            f" {notice.url}" if notice.url else "",
            extra={
                "channel": self.name,
                "topic": notice.topic,
                "recipient": notice.recipient.ref,
                "case_number": notice.case_number,
            },
        )


def _channel(name: str, settings: Settings) -> Channel:
    """The channels a setting may name; each is made once per app."""
    from service import notify_channels  # (they import this module's Notice)

    if name == "email":
        return notify_channels.EmailChannel(settings.notify)
    if name == "sms":
        return notify_channels.SmsChannel(settings.notify)
    return ConsoleChannel()


class ChannelNotifier:
    """The ``Notifier`` over a list of channels, each notice to every channel in turn."""

    def __init__(self, channels: Sequence[Channel]) -> None:
        self.channels = tuple(channels)

    async def notify(self, notices: Sequence[Notice]) -> list[Delivery]:
        deliveries = []
        for notice in notices:
            for channel in self.channels:
                try:
                    await channel.deliver(notice)
                except Exception as exc:
                    # Logged with its ids and returned, for the caller to record: one
                    # channel down must not keep the others' notices from going out.
                    log.exception(
                        "a notice could not be delivered",
                        extra={
                            "channel": channel.name,
                            "topic": notice.topic,
                            "recipient": notice.recipient.ref,
                            "case_number": notice.case_number,
                        },
                    )
                    deliveries.append(
                        Delivery(
                            channel.name,
                            notice.recipient.ref,
                            notice.topic,
                            ok=False,
                            error=type(exc).__name__,
                        )
                    )
                else:
                    deliveries.append(
                        Delivery(channel.name, notice.recipient.ref, notice.topic, ok=True)
                    )
        return deliveries


def make_notifier(settings: Settings, app: FastAPI | None = None) -> ChannelNotifier:
    """The configured channels; with the app, the in-app list first (always)."""
    channels = [_channel(name, settings) for name in settings.notify.channels]
    sessionmaker = getattr(getattr(app, "state", None), "sessionmaker", None)
    if sessionmaker is not None:
        from service.notify_channels import InAppChannel

        channels.insert(0, InAppChannel(sessionmaker))
    return ChannelNotifier(channels)


def notifier_of(app: FastAPI) -> Notifier:
    """The app's notifier, made from its settings on first use and kept on the app, so that
    every domain shares one (and a test or the composition root may set its own first)."""
    notifier: Notifier | None = getattr(app.state, "notifier", None)
    if notifier is None:
        notifier = make_notifier(app.state.settings, app)
        app.state.notifier = notifier
    return notifier
