"""One settings class, read from the environment (``MEDIATION_*``) through a cached getter."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class DatabaseSettings(BaseModel):
    url: str = ""
    echo: bool = False
    # PostgreSQL connections kept open (MEDIATION_DB__POOL_SIZE). Beyond them, up to 10 more
    # are opened under load and closed again when returned: at 200 requests a second with
    # the default of 5, the server spent its time connecting (bench/queue.py).
    pool_size: int = Field(default=20, ge=1, le=500)


class RtcSettings(BaseModel):
    ice_servers: list[dict[str, Any]] = Field(default_factory=list)
    # Every leg of a room uses one video codec: the server forwards, it cannot translate.
    video_codec: Literal["VP8", "H264"] = "VP8"
    recording_segment_seconds: float = Field(default=300.0, ge=5.0)
    # The addresses the server's peers offer for media (ICE host candidates); empty: every
    # interface's. A server with several interfaces names the one browsers can reach; the
    # tests and benchmarks use 127.0.0.1, so that no media leaves the machine.
    host_addresses: list[str] = Field(default_factory=list)
    # A room nobody has been in for this long closes itself (MEDIATION_RTC__ROOM_IDLE_MINUTES):
    # otherwise it stays "in progress" and parties' links keep leading into an empty room.
    room_idle_minutes: float = Field(default=30.0, gt=0)


class AuthSettings(BaseModel):
    staff_session_hours: int = 12
    invitation_days: int = 7
    # Failed sign-ins allowed per username (and, more generously, per address) in the window.
    max_failures_per_user: int = 5
    max_failures_per_address: int = 30
    failure_window_minutes: int = 15


# Where notices go besides the in-app list, which always has them (service/notify.py).
NotifyChannel = Literal["console", "email", "sms"]


def _console_only() -> list[NotifyChannel]:
    return ["console"]


class NotifySettings(BaseModel):
    """Notifications (service/notify.py) and the rooms' reminders (rooms/reminders.py)."""

    # Where notices go: "console" is a log line on logger "mediation.notify" (the default
    # until email and SMS exist). A JSON list: MEDIATION_NOTIFY__CHANNELS='["console"]'.
    channels: list[NotifyChannel] = Field(default_factory=_console_only, min_length=1)
    # Reminders before a scheduled meeting, in minutes before its start (each once), besides
    # the notice sent when its time is set: MEDIATION_NOTIFY__REMINDER_MINUTES='[60, 10]'.
    reminder_minutes: list[int] = Field(default_factory=lambda: [60, 10], max_length=10)
    # The reminders' task looks for due reminders at least this often (it also wakes when a
    # time is set, and at the next reminder's due time).
    poll_seconds: float = Field(default=60.0, ge=1.0, le=3600.0)
    # The "email" channel: SMTP (MEDIATION_NOTIFY__SMTP_HOST, __SMTP_PORT, ...). Implicit TLS
    # on connect (smtp_tls, port 465) or STARTTLS (smtp_starttls, port 587); neither only for
    # a relay on this machine.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = "mediation@localhost"
    smtp_starttls: bool = True
    smtp_tls: bool = False
    smtp_timeout_seconds: float = Field(default=15.0, gt=0, le=120)
    # The "sms" channel: a JSON POST {"to", "text"} to the gateway's URL, with the token as
    # a bearer credential if set (MEDIATION_NOTIFY__SMS_URL, __SMS_TOKEN).
    sms_url: str | None = None
    sms_token: SecretStr | None = None
    sms_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("channels")
    @classmethod
    def _no_repeats(cls, value: list[NotifyChannel]) -> list[NotifyChannel]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _channels_configured(self) -> NotifySettings:
        if "email" in self.channels and not self.smtp_host:
            raise ValueError("the email channel needs MEDIATION_NOTIFY__SMTP_HOST")
        if "sms" in self.channels and not (self.sms_url or "").startswith(("http://", "https://")):
            raise ValueError("the sms channel needs MEDIATION_NOTIFY__SMS_URL (http or https)")
        return self

    @field_validator("reminder_minutes")
    @classmethod
    def _minutes(cls, value: list[int]) -> list[int]:
        if any(m < 1 or m > 7 * 24 * 60 for m in value):
            raise ValueError("each reminder is 1 to 10080 minutes (a week) before the start")
        return sorted(set(value), reverse=True)


class PdfSettings(BaseModel):
    """The PDF workers (service/documents/pdf.py) and the committees' seals
    (service/documents/seal.py): MEDIATION_PDF__WORKERS, MEDIATION_PDF__TIMEOUT_SECONDS..."""

    # Worker processes rendering, sealing and checking PDFs, off the loop carrying the video.
    workers: int = Field(default=2, ge=1, le=32)
    # One render, seal or check longer than this is stopped (its worker killed and replaced)
    # and refused with 503; a normal agreement takes well under a second.
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # Start the workers (and load their fonts) when the server starts, rather than on the
    # first PDF. The tests turn it off: most of their apps never make a PDF.
    prestart: bool = True
    # Workers run this much nicer than the server (os.nice): on a busy machine the process
    # forwarding the media gets the CPU first, and a render waits instead.
    worker_nice: int = Field(default=10, ge=0, le=19)
    # A worker is replaced after this many jobs, so whatever a long-lived renderer
    # accumulates (caches, fragmentation) stays bounded.
    max_jobs_per_worker: int = Field(default=200, ge=1)
    # The largest PDF POST /api/documents/verify reads; a larger one gets 413.
    max_verify_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    # A CA-issued seal instead of the generated one: a folder of <organisation id>.p12 files
    # (PKCS#12, key and certificate chain) and their passphrase.
    seal_pkcs12_dir: Path | None = None
    seal_pkcs12_passphrase: SecretStr | None = None


class Settings(BaseSettings):
    """Everything the service reads from its environment.

    The flat names in API.md (``MEDIATION_DATABASE_URL``, ``MEDIATION_ICE_SERVERS``) are the
    contract; they are folded into the nested groups below after validation.
    """

    model_config = SettingsConfigDict(env_prefix="MEDIATION_", env_nested_delimiter="__")

    data_dir: Path = Path("./data")
    database_url: str = ""
    secret_key: SecretStr | None = None
    public_url: str = "http://127.0.0.1:8000"
    ice_servers: str = ""
    host_addresses: str = ""  # comma-separated; folded into rtc.host_addresses
    default_language: str = "zh_Hans"
    log_level: str = "INFO"
    log_json: bool = True

    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    rtc: RtcSettings = Field(default_factory=RtcSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    pdf: PdfSettings = Field(default_factory=PdfSettings)

    # The signing key, read once (``secret()`` runs on every authenticated request).
    _secret: bytes | None = PrivateAttr(default=None)
    _secret_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _fold(self) -> Settings:
        self.data_dir = self.data_dir.resolve()
        if not self.db.url:
            self.db.url = self.database_url or (
                f"sqlite+aiosqlite:///{self.data_dir / 'mediation.db'}"
            )
        if self.ice_servers and not self.rtc.ice_servers:
            try:
                servers = json.loads(self.ice_servers)
            except json.JSONDecodeError as exc:
                raise ValueError(f"MEDIATION_ICE_SERVERS is not valid JSON: {exc}") from exc
            if not isinstance(servers, list) or not all(isinstance(s, dict) for s in servers):
                raise ValueError(
                    'MEDIATION_ICE_SERVERS must be a JSON list such as [{"urls": "stun:..."}]'
                )
            self.rtc.ice_servers = servers
        if self.host_addresses and not self.rtc.host_addresses:
            self.rtc.host_addresses = [
                a.strip() for a in self.host_addresses.replace(" ", ",").split(",") if a.strip()
            ]
        for address in self.rtc.host_addresses:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(
                    f"MEDIATION_HOST_ADDRESSES: {address!r} is not an IP address (give this"
                    " server's addresses for media, such as 203.0.113.7 or 2001:db8::7,"
                    " separated by commas)"
                ) from None
        return self

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    def secret(self) -> bytes:
        """The key that signs sessions: from the environment, else made once in the data dir.

        Read on first use and kept: every authenticated request asks for it, and a file read
        each time is blocking work on the loop that carries the video. The lock makes the
        first use safe from several threads at once (the event loop never waits on it for
        longer than that one read)."""
        if self._secret is not None:
            return self._secret
        with self._secret_lock:
            if self._secret is None:
                self._secret = self._load_secret()
            return self._secret

    def _load_secret(self) -> bytes:
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it first; use theirs
                pass
            else:
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()


@lru_cache
def get_settings() -> Settings:
    return Settings()
