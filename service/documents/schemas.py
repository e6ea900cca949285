"""The JSON shapes of documents and their verification (POST /api/documents/verify)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from service.documents.service import Issued, SealCheck, Verification, format_code


class IssuedOut(BaseModel):
    """A document this service issued. Nothing personal: the case number and the issuer."""

    sha256: str
    code: str = Field(description="the verification code, as printed (K7QX-3M9P-TA2W)")
    kind: str = Field(description="agreement or ruling")
    source_id: int = Field(description="the agreement's id (or the decision's, for a ruling)")
    version: int | None = Field(description="the agreement version sealed")
    case_number: str
    organisation: str = Field(description="who issued and sealed it")
    issued_at: datetime
    size: int

    @classmethod
    def of(cls, issued: Issued) -> IssuedOut:
        return cls(
            sha256=issued.sha256,
            code=format_code(issued.code),
            kind=issued.kind,
            source_id=issued.source_id,
            version=issued.version,
            case_number=issued.case_number,
            organisation=issued.organisation,
            issued_at=issued.issued_at,
            size=issued.size,
        )


class SealOut(BaseModel):
    signed: bool = Field(description="the file carries a signature")
    intact: bool = Field(description="the bytes the signature covers are unchanged")
    valid: bool = Field(description="the signature verifies with its certificate")
    whole_file: bool = Field(description="the signature covers the whole file")
    ours: bool = Field(description="made with the issuing organisation's seal, as we hold it")
    signer: str | None
    signed_at: str | None

    @classmethod
    def of(cls, seal: SealCheck) -> SealOut:
        return cls(
            signed=seal.signed,
            intact=seal.intact,
            valid=seal.valid,
            whole_file=seal.whole_file,
            ours=seal.ours,
            signer=seal.signer,
            signed_at=seal.signed_at,
        )


class VerifyOut(BaseModel):
    genuine: bool = Field(
        description="we issued exactly this file and its seal is intact, whole and ours"
    )
    sha256: str = Field(description="the SHA-256 of the file given")
    issued: IssuedOut | None = Field(description="the document, if we issued exactly this file")
    altered: IssuedOut | None = Field(
        description="a document we issued that this file is, with something added after its seal"
    )
    seal: SealOut

    @classmethod
    def of(cls, result: Verification) -> VerifyOut:
        return cls(
            genuine=result.genuine,
            sha256=result.sha256,
            issued=IssuedOut.of(result.issued) if result.issued else None,
            altered=IssuedOut.of(result.altered) if result.altered else None,
            seal=SealOut.of(result.seal),
        )
