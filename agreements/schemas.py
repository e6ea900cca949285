"""The agreements' JSON shapes (API.md: templates, agreement, versions, diff, signatures)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, StrictInt
from pydantic_core import PydanticCustomError

from agreements.content import Content, PartySnapshot
from agreements.models import AgreementStatus, SignMethod
from agreements.signing import MAX_PNG_BYTES
from service.schemas import Line, Strict

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
VersionNumber = Annotated[StrictInt, Field(ge=1, le=100_000)]


def _base64_png(value: Any) -> Any:
    # Base64 of at most MAX_PNG_BYTES: the length is bounded before anything is decoded.
    if not isinstance(value, str):
        raise PydanticCustomError("png_type", "a base64-encoded PNG is needed")
    if len(value) > (MAX_PNG_BYTES * 4) // 3 + 4:
        raise PydanticCustomError("png_too_large", "the signature image is too large")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise PydanticCustomError("png_base64", "the signature image is not base64") from None


class TemplateOut(BaseModel):
    id: str
    dispute_type: str
    name: str
    description: str


class AgreementIn(Strict):
    template: Annotated[str, Line(min_length=1, max_length=40)]
    content: Content | None = None  # none: the template filled in from the case


class AgreementSave(Strict):
    base_version: VersionNumber
    content: Content


class VoidIn(Strict):
    reason: Annotated[str, Line(min_length=1, max_length=500)]


class SignatureIn(Strict):
    version: VersionNumber
    content_sha256: Sha256
    method: SignMethod
    image_png: Annotated[bytes, BeforeValidator(_base64_png)] | None = None
    typed_name: Annotated[str, Line(min_length=1, max_length=100)] | None = None


class FindingOut(BaseModel):
    level: Literal["error", "warning"]
    code: str
    clause: str | None
    message: str
    rule: str


class ClauseOut(BaseModel):
    key: str
    heading: str
    text: str


class VersionOut(BaseModel):
    number: int
    content_sha256: str
    created_at: datetime
    template: str
    parties: list[PartySnapshot]
    content: Content
    clauses: list[ClauseOut]
    findings: list[FindingOut]


class SignatureOut(BaseModel):
    id: int
    version: int
    content_sha256: str
    party_id: int | None
    user_id: int | None
    signer_name: str
    method: SignMethod
    signed_at: datetime


class AwaitingOut(BaseModel):
    party_id: int | None
    name: str
    role: str


class AgreementOut(BaseModel):
    id: int
    case_id: int
    template: str
    status: AgreementStatus
    latest_version: int
    signing_version: int | None
    effective_at: datetime | None
    confirmation_deadline: datetime | None
    document_sha256: str | None
    version: VersionOut  # the latest
    signatures: list[SignatureOut]
    awaiting: list[AwaitingOut]  # who still signs the version out for signing, in order


class VersionSummary(BaseModel):
    number: int
    content_sha256: str
    created_at: datetime


class ClauseDiffOut(BaseModel):
    key: str
    heading: str
    change: Literal["added", "removed", "changed", "same"]
    before: str | None
    after: str | None
    ops: list[tuple[Literal["same", "added", "removed"], str]]


class DiffOut(BaseModel):
    from_version: int = Field(serialization_alias="from")
    to_version: int = Field(serialization_alias="to")
    clauses: list[ClauseDiffOut]
