"""The JSON shapes of the shared API. Lengths here match the columns, so input that the
database could not hold is refused with 422 and the field named, before anything is written.

Request models derive from ``Strict``: unknown fields are refused, and so is a value of the
wrong JSON type (``"yes"`` for a boolean, ``2.0`` for an id), through the strict scalar
types below. Strictness is per field rather than ``ConfigDict(strict=True)`` because FastAPI
validates the decoded body as Python data, where strict mode would also refuse the strings
that JSON uses for enums, dates and decimals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StrictInt,
    StringConstraints,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from service.models import (
    CaseStatus,
    CommitteeLevel,
    DisputeType,
    Industry,
    OrgKind,
    Party,
    PartyKind,
    PartyRole,
    Role,
)
from service.personal import mask_id_number, normalise_id_number


@dataclass(frozen=True)
class Line:
    """One line of text, trimmed: ``Annotated[str, Line(max_length=200)]``.

    Control characters are refused (422, the field named): PostgreSQL cannot store NUL at
    all, and a tab or line break in a name or a title is a paste accident that would show
    up in case numbers, PDFs and the audit trail. Lone surrogates never get this far (the
    string is refused as ``string_unicode``). The JSON schema carries the same rule as a
    ``pattern``, so the published contract says it too.
    """

    min_length: int = 0
    max_length: int | None = None
    strip: bool = True

    # C0 and C1 controls and DEL: Unicode category Cc.
    forbidden: ClassVar[re.Pattern[str]] = re.compile(r"[\x00-\x1f\x7f-\x9f]")
    pattern: ClassVar[str] = r"^[^\x00-\x1f\x7f-\x9f]*$"
    error: ClassVar[str] = "line_control_character"

    def _check(self, value: str) -> str:
        if self.forbidden.search(value):
            raise PydanticCustomError(self.error, "control characters are not allowed here")
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        # The lengths sit inside the string schema, before the check, so that they report
        # as string_too_long / string_too_short like every other text field.
        text = core_schema.str_schema(
            strip_whitespace=self.strip, min_length=self.min_length, max_length=self.max_length
        )
        return core_schema.no_info_after_validator_function(self._check, text)

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.pattern
        return json_schema


@dataclass(frozen=True)
class Text(Line):
    """Text that may run over several lines (a summary, a reason): line breaks (``\\n``,
    ``\\r\\n``) and tabs are kept, every other control character is refused."""

    forbidden: ClassVar[re.Pattern[str]] = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
    pattern: ClassVar[str] = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    error: ClassVar[str] = "text_control_character"


# Row ids are 32-bit on PostgreSQL; a larger number is malformed input, not a server error.
MAX_ID = 2**31 - 1
RowId = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
Name = Annotated[str, Line(min_length=1, max_length=100)]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 \-]{4,28}$")
]
IdNumber = Annotated[str, Line(max_length=18)]
# Passwords are kept as typed, not trimmed.
Password = Annotated[str, Line(min_length=1, max_length=256, strip=False)]
# Join links and session tokens are URL-safe base64 (service.security.new_token).
Token = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_\-]+$")
]
SearchText = Annotated[str, Line(max_length=100)]


class Strict(BaseModel):
    """A request body: no unknown fields; scalars typed with ``StrictBool``/``StrictInt``
    (tests/test_input.py checks that no request model accepts a coerced scalar)."""

    model_config = ConfigDict(extra="forbid")


class LoginIn(Strict):
    username: Annotated[str, Line(min_length=1, max_length=64)]
    password: Password


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
    short_name: str = Field(description="简称, used in case numbers: （2026）潞东调字第1号")
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
    token: Token


class MeOut(BaseModel):
    kind: Literal["staff", "party"]
    user: UserOut | None = None
    organisation: OrganisationOut | None = None
    party: PartyOut | None = None
    case_id: int | None = None
    csrf_token: str


class AgentIn(Strict):
    name: Name
    id_number: IdNumber | None = None
    phone: Phone | None = None

    @field_validator("id_number")
    @classmethod
    def _normalise(cls, value: str | None) -> str | None:
        return normalise_id_number(value) if value else None


class PartyIn(Strict):
    role: PartyRole
    kind: PartyKind = PartyKind.person
    name: Annotated[str, Line(min_length=1, max_length=200)]
    id_number: IdNumber | None = Field(
        default=None, description="resident ID, or credit code for organisations"
    )
    phone: Phone | None = None
    address: Annotated[str, Line(max_length=300)] | None = None
    representative: Annotated[str, Line(max_length=100)] | None = Field(
        default=None, description="an organisation's legal representative"
    )
    agent: AgentIn | None = None

    @field_validator("id_number")
    @classmethod
    def _normalise(cls, value: str | None) -> str | None:
        return normalise_id_number(value) if value else None


# Which courts may confirm the case's agreement (CPL 205; service/venue.py checks them).
ReferringCourt = Annotated[
    RowId | None,
    Field(
        description="the court (an organisation of kind court) that referred the case to the"
        " committee (委派调解, or 先行调解 on its invitation): then the only court to apply to"
        " for confirmation"
    ),
]
SubjectRegion = Annotated[
    Annotated[str, Line(max_length=20)] | None,
    Field(
        description="where the subject matter is (标的物所在地): the six-digit region code of"
        " the county or district, e.g. 140403; its basic court is competent too"
    ),
]


class CaseIn(Strict):
    dispute_type: DisputeType
    title: Annotated[str, Line(min_length=1, max_length=200)]
    summary: Annotated[str, Text(max_length=4000)] = ""
    parties: list[PartyIn] = Field(min_length=2, max_length=20)
    referred_by_court_id: ReferringCourt = None
    subject_region: SubjectRegion = None


class CasePatch(Strict):
    """What may change on an open case; a field left out stays as it is, null clears it."""

    referred_by_court_id: ReferringCourt = None
    subject_region: SubjectRegion = None


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

    # What another party of the case never sees: all but the name and role (API.md).
    PRIVATE: ClassVar[frozenset[str]] = frozenset(
        {"id_number", "phone", "address", "representative", "agent_name"}
    )

    @classmethod
    def seen_by(cls, party: Party, *, viewer_party_id: int | None) -> PartyOut:
        """``party`` as the caller sees it, for the API and the pages alike. Staff (no
        viewer party) and the party themself see it all; another party of the case sees the
        name and role only, never the phone, address, ID number or who acts for them: in
        family and neighbour disputes, where someone lives is not the other side's business."""
        row = party.model_dump()
        if viewer_party_id is not None and party.id != viewer_party_id:
            row.update(dict.fromkeys(cls.PRIVATE))
        return cls.model_validate(row)


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
    referred_by_court_id: int | None
    subject_region: str | None
    parties: list[PartyOut]


class CasePage(BaseModel):
    items: list[CaseOut]
    total: int
    page: int
    per_page: int


class StatusChangeIn(Strict):
    # Which moves a mediator may make is the state machine's to say (cases.transition): a
    # move it refuses, such as 'agreed' (reached only when an agreement takes effect), is
    # 409 naming the case's state.
    status: CaseStatus = Field(
        description="one move of the case state machine; 'agreed' is reached only when an"
        " agreement takes effect, so asking for it is 409 like any move the machine refuses"
    )
    reason: Annotated[str, Text(max_length=1000)] | None = None


class InvitationIn(Strict):
    party_id: RowId
    valid_days: Annotated[StrictInt, Field(ge=1, le=30)] | None = None


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
    name: Annotated[str, Line(min_length=1, max_length=200)]
    short_name: Annotated[str, Line(max_length=60)] | None = Field(
        default=None,
        description="简称 for case numbers; derived from the name when not given"
        " (service/accounts.py: default_short_name)",
    )
    level: CommitteeLevel | None = None
    industry: Industry | None = None
    parent_id: RowId | None = None
    region_code: Annotated[str, Line(max_length=20)] | None = None


class UserIn(Strict):
    username: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.\-]{3,64}$")
    ]
    password: Annotated[str, Line(min_length=10, max_length=256, strip=False)]
    role: Role
    org_id: RowId
    name: Annotated[str, Line(max_length=100)] | None = None


class ErrorOut(BaseModel):
    """Every error but 422, whose ``detail`` is FastAPI's list of ``{loc, msg, type}``."""

    detail: str = Field(description="what went wrong, in the caller's language")


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]


MeOut.model_rebuild()
PartyLoginOut.model_rebuild()
