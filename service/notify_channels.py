"""The notifier's channels besides the console (service/notify.py): in-app (always), email
over SMTP and an SMS gateway (configured: MEDIATION_NOTIFY__CHANNELS and the SMTP_* and
SMS_* settings). Each raises when it could not deliver, and the notifier records that and
goes on; a recipient without an address for a channel is skipped by that channel."""

from __future__ import annotations

import json
from email.message import EmailMessage

import aiosmtplib
import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.inbox import InAppNotice
from service.notify import Notice
from service.settings import NotifySettings


class InAppChannel:
    """Every notice to a party is kept for their case page (service/inbox.py), in its own
    transaction: notices go out after the request's work committed."""

    name = "in_app"

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def deliver(self, notice: Notice) -> None:
        if notice.recipient.kind != "party":
            return  # staff see their work on their own pages
        async with self.sessionmaker() as session, session.begin():
            session.add(
                InAppNotice(
                    party_id=notice.recipient.id,
                    topic=notice.topic[:60],
                    message=notice.message,
                    params=json.dumps(dict(notice.params), ensure_ascii=False),
                    url=notice.url,
                )
            )


class EmailChannel:
    """One message per notice over SMTP, attachments (an .ics) included."""

    name = "email"

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings

    def message(self, notice: Notice) -> EmailMessage:
        text = notice.text()
        message = EmailMessage()
        message["From"] = self.settings.smtp_sender
        message["To"] = notice.recipient.email or ""
        message["Subject"] = f"[{notice.case_number}] {text[:60]}"
        message.set_content(text + (f"\n\n{notice.url}" if notice.url else "") + "\n")
        for attachment in notice.attachments:
            main, _, sub = attachment.media_type.partition("/")
            message.add_attachment(
                attachment.content, maintype=main, subtype=sub, filename=attachment.filename
            )
        return message

    async def deliver(self, notice: Notice) -> None:
        if not notice.recipient.email:
            return
        s = self.settings
        await aiosmtplib.send(
            self.message(notice),
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            use_tls=s.smtp_tls,
            start_tls=s.smtp_starttls and not s.smtp_tls,
            timeout=s.smtp_timeout_seconds,
        )


class SmsChannel:
    """A JSON POST per notice to the configured gateway: {"to", "text", "topic"}. A text
    message carries no attachment; the link to the case page goes with the text."""

    name = "sms"

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings

    async def deliver(self, notice: Notice) -> None:
        if not notice.recipient.phone or not self.settings.sms_url:
            return
        headers = {}
        if self.settings.sms_token is not None:
            headers["Authorization"] = f"Bearer {self.settings.sms_token.get_secret_value()}"
        text = notice.text() + (f" {notice.url}" if notice.url else "")
        async with httpx.AsyncClient(timeout=self.settings.sms_timeout_seconds) as client:
            response = await client.post(
                self.settings.sms_url,
                json={"to": notice.recipient.phone, "text": text, "topic": notice.topic},
                headers=headers,
            )
            response.raise_for_status()  # the gateway refused: recorded as not delivered
