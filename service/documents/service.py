"""Issuing documents and verifying files people bring back.

``issue`` stores a sealed file and records it; ``verify`` answers, for any file at all,
whether this service issued exactly it, which document it is, and whether the seal on it is
intact and is that organisation's. Services only add and flush: the caller's unit of work
commits, so a document is recorded together with whatever issued it (the agreement turning
effective) or not at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.documents import pades
from service.documents.models import Document, DocumentKind, SealKey
from service.documents.pdf import PdfWorkers
from service.errors import Invalid
from service.i18n import N_
from service.models import Case, Organisation
from service.storage import ContentStore

# 32 letters and digits that cannot be misread for one another (no 0/O, 1/I): a code is
# read off paper and typed in.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 12  # 60 bits: not guessable, still short enough to type
NOT_A_PDF = N_("This file is not a PDF. Choose the PDF file of the document to check.")


def new_code() -> str:
    """A fresh verification code, printed in the document's footer and its QR code."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    """As printed: in groups of four (K7QX-3M9P-TA2W)."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalise_code(text: str) -> str | None:
    """A code as typed (any case, spaces or dashes) to its stored form; None if it cannot
    be one."""
    code = "".join(ch for ch in text.upper() if ch not in " -\t")
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return code


def looks_like_pdf(data: bytes) -> bool:
    """A PDF's header may follow up to 1 KiB of other bytes (the standard's allowance)."""
    return b"%PDF-" in data[:1024]


async def issue(
    session: AsyncSession,
    *,
    pdf: bytes,
    case_id: int,
    kind: DocumentKind,
    source_id: int,
    version: int | None,
    code: str,
    org_id: int,
    store: ContentStore,
) -> Document:
    """Store the file (named by its SHA-256) and record it as issued."""
    sha256 = await store.put_bytes_async(pdf)
    document = Document(
        sha256=sha256,
        case_id=case_id,
        kind=kind,
        source_id=source_id,
        version=version,
        code=code,
        org_id=org_id,
        size=len(pdf),
    )
    session.add(document)
    await session.flush()
    return document


async def by_sha256(session: AsyncSession, sha256: str) -> Document | None:
    found = await session.exec(select(Document).where(Document.sha256 == sha256))
    return found.first()


async def by_code(session: AsyncSession, code: str) -> Document | None:
    found = await session.exec(select(Document).where(Document.code == code))
    return found.first()


@dataclass(frozen=True)
class Issued:
    """A document we issued, as verification describes it (no party's personal data)."""

    sha256: str
    code: str
    kind: str
    source_id: int
    version: int | None
    case_id: int
    case_number: str
    organisation: str
    issued_at: datetime
    size: int


async def describe(session: AsyncSession, document: Document) -> Issued:
    case = await session.get_one(Case, document.case_id)
    org = await session.get_one(Organisation, document.org_id)
    return Issued(
        sha256=document.sha256,
        code=document.code,
        kind=document.kind,
        source_id=document.source_id,
        version=document.version,
        case_id=document.case_id,
        case_number=case.number,
        organisation=org.name,
        issued_at=document.created_at,
        size=document.size,
    )


@dataclass(frozen=True)
class SealCheck:
    signed: bool  # the file carries a signature at all
    intact: bool  # the bytes it covers are unchanged
    valid: bool  # the signature over them verifies with the certificate in it
    whole_file: bool  # it covers the whole file (nothing appended after it)
    ours: bool  # made with the seal we hold for the issuing organisation
    signer: str | None
    signed_at: str | None


@dataclass(frozen=True)
class Verification:
    sha256: str
    issued: Issued | None  # this exact file is one we issued
    altered: Issued | None  # a file we issued, with something appended after its seal
    seal: SealCheck

    @property
    def genuine(self) -> bool:
        seal = self.seal
        return (
            self.issued is not None and seal.intact and seal.valid and seal.whole_file and seal.ours
        )


async def verify(session: AsyncSession, *, pdf: bytes, workers: PdfWorkers) -> Verification:
    """Whether we issued this file, which document it is, and whether its seal holds.

    The hash decides "we issued exactly this"; the seal is checked in a worker (a file
    anyone uploads is parsed there, with the worker's timeout, never on the loop)."""
    if not looks_like_pdf(pdf):
        raise Invalid(NOT_A_PDF, field="file")
    sha256 = await asyncio.to_thread(lambda: hashlib.sha256(pdf).hexdigest())
    check: dict[str, Any] = await workers.run(pades.check_pdf, pdf, what="verify")
    document = await by_sha256(session, sha256)
    altered = None
    signed_sha256 = check.get("signed_sha256")
    if document is None and signed_sha256 and signed_sha256 != sha256:
        altered = await by_sha256(session, signed_sha256)
    known = document or altered
    org_id = known.org_id if known is not None else None
    ours = await _is_our_seal(session, check.get("signer_cert_der"), org_id)
    return Verification(
        sha256=sha256,
        issued=await describe(session, document) if document else None,
        altered=await describe(session, altered) if altered else None,
        seal=SealCheck(
            signed=bool(check["signed"]),
            intact=bool(check["intact"]),
            valid=bool(check["valid"]),
            whole_file=bool(check["whole_file"]),
            ours=ours,
            signer=check.get("signer"),
            signed_at=check.get("signed_at"),
        ),
    )


async def _is_our_seal(session: AsyncSession, cert_der: bytes | None, org_id: int | None) -> bool:
    """Whether the signing certificate is the seal we hold: the issuing organisation's when
    the document is known, else any organisation's."""
    if not cert_der:
        return False
    if org_id is not None:
        key = await session.get(SealKey, org_id)
        keys = [key] if key is not None else []
    else:
        keys = list((await session.exec(select(SealKey))).all())
    for key in keys:
        chain = pades.certificates(key.cert_pem.encode())
        if chain and chain[0].dump() == cert_der:
            return True
    return False
