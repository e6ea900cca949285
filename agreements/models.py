"""Agreements, their immutable versions, and the signatures bound to one version's hash.

An agreement goes ``draft -> signing -> effective`` (or ``void``); agreements/service.py's
``transition`` is the one place it moves. Every save is a new ``AgreementVersion`` row that
is never changed afterwards, so what a party signed can always be shown again and its hash
recomputed. A signature names the version and the hash it was given for; an edit while
signing voids the signatures (``voided_at``) rather than deleting them, because a signature
given and voided is evidence too.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from service.clock import now
from service.models import _in, _utc


class AgreementStatus(StrEnum):
    draft = "draft"  # the mediator writes it; every save is a version
    signing = "signing"  # one version is out for signing (``signing_version``)
    effective = "effective"  # every party, then the mediator signed; sealed and frozen
    void = "void"  # abandoned; the case may start another


class SignMethod(StrEnum):
    drawn = "drawn"  # a signature drawn with a finger (a PNG)
    typed = "typed"  # the signer's name typed


LIVE_AGREEMENT = "status != 'void'"


class Agreement(SQLModel, table=True):
    """The case's agreement. ``latest_version`` is the newest version's number (the
    ``base_version`` a save must name); ``signing_version`` the one out for signing;
    ``effective_at`` starts the 30 days in which the parties may apply for confirmation;
    ``document_sha256`` names the sealed PDF."""

    __tablename__ = "agreement"
    __table_args__ = (
        CheckConstraint(_in("status", AgreementStatus), name="status"),
        CheckConstraint("latest_version >= 1", name="latest_version"),
        # One agreement in progress or in force per case: two concurrent "start" requests
        # cannot both make one.
        Index(
            "uq_agreement_live",
            "case_id",
            unique=True,
            postgresql_where=text(LIVE_AGREEMENT),
            sqlite_where=text(LIVE_AGREEMENT),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("mediation_case.id", ondelete="RESTRICT"),
            nullable=False,
            index=True,
        )
    )
    template: str = Field(sa_type=String(40))
    status: str = Field(default=AgreementStatus.draft, sa_type=String(20))
    latest_version: int = 1
    signing_version: int | None = None
    created_by: int = Field(
        sa_column=Column(
            Integer, ForeignKey("user_account.id", ondelete="RESTRICT"), nullable=False
        )
    )
    created_at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))
    updated_at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))
    effective_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    document_sha256: str | None = Field(default=None, sa_type=String(64))


class AgreementVersion(SQLModel, table=True):
    """One saved text, never changed: ``document`` is the canonical JSON (template, parties
    as named, content) whose SHA-256 is ``content_sha256``."""

    __tablename__ = "agreement_version"
    __table_args__ = (UniqueConstraint("agreement_id", "number", name="uq_agreement_version"),)

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(
        sa_column=Column(Integer, ForeignKey("agreement.id", ondelete="RESTRICT"), nullable=False)
    )
    number: int
    document: str = Field(sa_type=Text)
    content_sha256: str = Field(sa_type=String(64))
    created_by: int = Field(
        sa_column=Column(
            Integer, ForeignKey("user_account.id", ondelete="RESTRICT"), nullable=False
        )
    )
    created_at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))


class Signature(SQLModel, table=True):
    """A party's or the mediator's signature on one version, bound to its hash, with the
    identity evidence of ESL 13: how the signer got in (join link or staff login), the
    consent ledger's identity check and consents, time, address and device."""

    __tablename__ = "signature"
    __table_args__ = (
        CheckConstraint(_in("method", SignMethod), name="method"),
        CheckConstraint("(party_id IS NULL) != (user_id IS NULL)", name="signer"),
        CheckConstraint(
            "(method = 'drawn' AND image_sha256 IS NOT NULL)"
            " OR (method = 'typed' AND typed_name IS NOT NULL)",
            name="mark",
        ),
        # Each signer once per version (NULLs are distinct: a party's row has no user).
        UniqueConstraint("version_id", "party_id", name="uq_signature_party"),
        UniqueConstraint("version_id", "user_id", name="uq_signature_user"),
        Index("ix_signature_agreement", "agreement_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(
        sa_column=Column(Integer, ForeignKey("agreement.id", ondelete="RESTRICT"), nullable=False)
    )
    version_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("agreement_version.id", ondelete="RESTRICT"), nullable=False
        )
    )
    version: int
    content_sha256: str = Field(sa_type=String(64))
    party_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("party.id", ondelete="RESTRICT"))
    )
    user_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("user_account.id", ondelete="RESTRICT")),
    )
    signer_name: str = Field(sa_type=String(200))
    method: str = Field(sa_type=String(10))
    image_sha256: str | None = Field(default=None, sa_type=String(64))
    typed_name: str | None = Field(default=None, sa_type=String(100))
    signed_at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))
    address: str = Field(default="", sa_type=String(64))
    user_agent: str = Field(default="", sa_type=String(300))
    evidence: str = Field(default="{}", sa_type=Text)
    voided_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
