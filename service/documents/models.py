"""The documents the service issued, and each organisation's sealing key.

Shared by the domains that issue documents (agreements now, confirmation's rulings later),
so it lives in service/ and refers only to service/'s tables.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, String, Text
from sqlmodel import Field, SQLModel

from service.clock import now
from service.models import _in, _utc


class DocumentKind(StrEnum):
    agreement = "agreement"  # a sealed mediation agreement (agreements/)
    ruling = "ruling"  # a confirmation ruling (confirmation/)
    record = "record"  # a mediation record that goes with an application (confirmation/)


class SealSource(StrEnum):
    generated = "generated"  # made by the service on first use, self-signed
    configured = "configured"  # a CA-issued certificate the operator put in place


class Document(SQLModel, table=True):
    """One file the service issued, named by its SHA-256.

    The bytes are in the content store under that hash; this row says what they are, so
    ``POST /api/documents/verify`` can answer "we issued this" from the hash alone, and a
    court can check a file it was handed without trusting whoever handed it over.

    ``kind`` and ``source_id`` point at the issuing domain's record (an agreement, a ruling)
    without a foreign key, because service/ must not know other domains' tables; ``version``
    is the agreement version sealed. ``code`` is the short verification code printed in the
    footer and carried by the QR code: it is chosen before the PDF is rendered (the PDF
    holds it), so it cannot be derived from the hash. ``org_id`` is the organisation whose
    seal signed it, whose certificate the signature must chain to. Rows are never updated or
    deleted (RESTRICT on the case): an issued document stays verifiable.
    """

    __tablename__ = "document"
    __table_args__ = (CheckConstraint(_in("kind", DocumentKind), name="kind"),)

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(sa_type=String(64), unique=True)
    case_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("mediation_case.id", ondelete="RESTRICT"),
            nullable=False,
            index=True,
        )
    )
    kind: str = Field(sa_type=String(20))
    source_id: int
    version: int | None = None
    code: str = Field(sa_type=String(16), unique=True)
    org_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("organisation.id", ondelete="RESTRICT"), nullable=False
        )
    )
    size: int
    created_at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))


class SealKey(SQLModel, table=True):
    """An organisation's electronic seal: an EC P-256 key and its certificate.

    One per organisation (the primary key), so two first uses at once cannot make two seals:
    the loser of the insert reads the winner's. ``key_pem`` is the private key as encrypted
    PKCS#8, its passphrase derived from the service's secret, so a copy of the database
    alone does not let anyone seal. ``source`` tells a generated, self-signed certificate
    from one a CA issued and the operator configured.
    """

    __tablename__ = "seal_key"
    __table_args__ = (CheckConstraint(_in("source", SealSource), name="source"),)

    org_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("organisation.id", ondelete="RESTRICT"), primary_key=True
        )
    )
    cert_pem: str = Field(sa_type=Text)
    key_pem: str = Field(sa_type=Text)
    source: str = Field(sa_type=String(20))
    created_at: datetime = Field(default_factory=now, sa_column=_utc(nullable=False))
