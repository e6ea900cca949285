"""The JSON shapes of the shared API. Lengths here match the columns, so input that the
database could not hold is refused with 422 and the field named, before anything is written."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from service.models import (
    CaseStatus,
    CommitteeLevel,
    DisputeType,
    Industry,
    OrgKind,
    PartyKind,
    PartyRole,
    Role,
)
from service.personal import mask_id_number, normalise_id_number

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
# Row ids are 32-bit on PostgreSQL; a larger number is malformed input, not a server error.
MAX_ID = 2**31 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 \-]{4,28}$")
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(Strict):
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class UserOut(BaseModel):
    id: int
    username: str
    name: str
    role: Role
    org_id: int


class OrganisationOut(BaseModel):
    id: int
    kind: OrgKind
    name: str
    code: str
    level: CommitteeLevel | None
    industry: Industry | None
    region_code: str | None
    parent_id: int | None


class LoginOut(BaseModel):
    token: str
    csrf_token: str
    user: UserOut


class PartyLoginOut(BaseModel):
    token: str
    csrf_token: str
    party: PartyOut
    case_id: int


class PartyTokenIn(Strict):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class MeOut(BaseModel):
    kind: Literal["staff", "party"]
    user: UserOut | None = None
    organisation: OrganisationOut | None = None
    party: PartyOut | None = None
    case_id: int | None = None
    csrf_token: str


class AgentIn(Strict):
    name: Annotated[Text, StringConstraints(max_length=100)]
    id_number: str | None = Field(default=None, max_length=18)
    phone: Phone | None = None

    @field_validator("id_number")
    @classmethod
    def _normalise(cls, value: str | None) -> str | None:
        return normalise_id_number(value) if value else None


class PartyIn(Strict):
    role: PartyRole
    kind: PartyKind = PartyKind.person
    name: Annotated[Text, StringConstraints(max_length=200)]
    id_number: str | None = Field(
        default=None, max_length=18, description="resident ID, or credit code for organisations"
    )
    phone: Phone | None = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    representative: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        default=None, description="an organisation's legal representative"
    )
    agent: AgentIn | None = None

    @field_validator("id_number")
    @classmethod
    def _normalise(cls, value: str | None) -> str | None:
        return normalise_id_number(value) if value else None


class CaseIn(Strict):
    dispute_type: DisputeType
    title: Annotated[Text, StringConstraints(max_length=200)]
    summary: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)] = ""
    parties: list[PartyIn] = Field(min_length=2, max_length=20)


class PartyOut(BaseModel):
    id: int
    role: PartyRole
    kind: PartyKind
    name: str
    id_number: str | None = Field(description="always masked: 110105********1234")
    phone: str | None
    address: str | None
    representative: str | None
    agent_name: str | None

    @field_validator("id_number")
    @classmethod
    def _mask(cls, value: str | None) -> str | None:
        return mask_id_number(value)


class CaseOut(BaseModel):
    id: int
    number: str
    org_id: int
    dispute_type: DisputeType
    title: str
    summary: str
    status: CaseStatus
    mediator_id: int
    created_at: datetime
    updated_at: datetime
    mediation_started_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    parties: list[PartyOut]


class CasePage(BaseModel):
    items: list[CaseOut]
    total: int
    page: int
    per_page: int


class StatusChangeIn(Strict):
    status: Literal[
        CaseStatus.mediating, CaseStatus.failed, CaseStatus.withdrawn, CaseStatus.closed
    ] = Field(description="'agreed' is reached only when the agreement takes effect")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None


class InvitationIn(Strict):
    party_id: RowId
    valid_days: int | None = Field(default=None, ge=1, le=30)


class InvitationOut(BaseModel):
    id: int
    party_id: int
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    use_count: int
    state: Literal["active", "expired", "revoked"]


class InvitationCreated(InvitationOut):
    url: str = Field(description="the join link; shown this once, only its hash is kept")


class AuditEventOut(BaseModel):
    seq: int
    at: datetime
    actor_kind: str
    actor_label: str
    action: str
    data: dict[str, object]


class OrganisationIn(Strict):
    kind: OrgKind
    name: Annotated[Text, StringConstraints(max_length=200)]
    code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=60)] | None = None
    level: CommitteeLevel | None = None
    industry: Industry | None = None
    parent_id: RowId | None = None
    region_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None = (
        None
    )


class UserIn(Strict):
    username: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.\-]{3,64}$")
    ]
    password: Annotated[str, StringConstraints(min_length=10, max_length=256)]
    role: Role
    org_id: RowId
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]


MeOut.model_rebuild()
PartyLoginOut.model_rebuild()
