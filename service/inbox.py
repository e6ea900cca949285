"""In-app notices: every notice to a party is also kept here and listed on their case page,
whatever other channels are configured (service/notify.py's ``InAppChannel``)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.clock import now
from service.models import _utc


class InAppNotice(SQLModel, table=True):
    """One notice to one party, as the notifier gave it: its msgid and parameters (shown in
    the reader's language), its topic and a link without a credential."""

    __tablename__ = "notice"
    __table_args__ = (Index("ix_notice_party", "party_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    party_id: int = Field(
        sa_column=Column(Integer, ForeignKey("party.id", ondelete="RESTRICT"), nullable=False)
    )
    topic: str = Field(sa_type=String(60))
    message: str = Field(sa_type=String(500))  # the msgid
    params: str = Field(default="{}", sa_type=Text)  # JSON
    url: str | None = Field(default=None, sa_type=String(300))
    at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))

    def params_dict(self) -> dict[str, str | int]:
        loaded: dict[str, str | int] = json.loads(self.params)
        return loaded


async def notices_of(session: AsyncSession, *, party_id: int, limit: int = 20) -> list[InAppNotice]:
    """The party's latest notices, newest first."""
    rows = await session.exec(
        select(InAppNotice)
        .where(InAppNotice.party_id == party_id)
        .order_by(col(InAppNotice.id).desc())
        .limit(limit)
    )
    return list(rows.all())
