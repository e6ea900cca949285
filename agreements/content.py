"""An agreement's content (API.md, "Agreement content") and its canonical form.

The shape is checked here (422 for what the database or the document could not hold: an
amount with three decimals, a date that is not one, a text too long). Whether the content
is complete and a court could confirm it is the confirmability check's (agreements/check.py):
a draft may be incomplete while the mediator writes it, but cannot go out for signing.

A version's hash is the SHA-256 of its canonical serialisation: the content, the parties as
the document names them and the template, as JSON with sorted keys, no spaces and UTF-8,
amounts as strings with two decimals. Two saves of the same text have the same hash, and
any change to what a signer read changes it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, StrictInt, StringConstraints
from pydantic_core import PydanticCustomError

from service.schemas import Line, RowId, Strict, Text

MAX_TERMS = 50
MAX_INSTALMENTS = 120
MAX_OTHER_TERMS = 30


def _amount_text(value: Any) -> Any:
    # Amounts are decimal strings in yuan: a JSON number would lose cents to binary floats.
    if not isinstance(value, str):
        raise PydanticCustomError("amount_type", 'an amount is a string such as "3000.00"')
    return value


def _positive(value: str) -> str:
    if Decimal(value) <= 0:
        raise PydanticCustomError("amount_positive", "an amount must be more than zero")
    return value


def _date_text(value: Any) -> Any:
    # A date is "YYYY-MM-DD" in JSON; a number would be taken for a Unix timestamp.
    if not isinstance(value, str | date):
        raise PydanticCustomError("date_type", "a date such as 2026-12-31 is needed")
    return value


# Positive yuan, at most two decimals, below a trillion.
Amount = Annotated[
    str,
    BeforeValidator(_amount_text),
    StringConstraints(strip_whitespace=True, pattern=r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$"),
    AfterValidator(_positive),
]
Day = Annotated[date, BeforeValidator(_date_text)]


class Instalment(Strict):
    due: Day
    amount: Amount


class Term(Strict):
    """One obligation: who owes whom what (an amount or an act), how, where and by when."""

    obligor: RowId | None = None
    obligee: RowId | None = None
    kind: Literal["payment", "act"]
    amount: Amount | None = None
    act: Annotated[str, Text(max_length=500)] | None = None
    method: Annotated[str, Line(max_length=100)] | None = None
    place: Annotated[str, Line(max_length=200)] | None = None
    due: Day | None = None
    instalments: list[Instalment] = Field(default_factory=list, max_length=MAX_INSTALMENTS)


class Content(Strict):
    facts: Annotated[str, Text(max_length=5000)] = ""
    disputed_matters: Annotated[str, Text(max_length=3000)] = ""
    responsibilities: Annotated[str, Text(max_length=3000)] = ""
    terms: list[Term] = Field(default_factory=list, max_length=MAX_TERMS)
    other_terms: list[Annotated[str, Text(min_length=1, max_length=1000)]] = Field(
        default_factory=list, max_length=MAX_OTHER_TERMS
    )
    copies: Annotated[StrictInt, Field(ge=1, le=20)] = 3


class PartySnapshot(BaseModel):
    """A party as the agreement names them: taken from the case when the version is saved,
    never retyped, and part of what is hashed and signed. The ID number is masked, as
    everywhere the service shows one (DESIGN.md, Security)."""

    id: int
    role: str
    kind: str
    name: str
    id_number: str | None = None
    address: str | None = None
    phone: str | None = None
    representative: str | None = None
    agent_name: str | None = None


def money(value: str | Decimal) -> str:
    """Two decimals, as the document prints and the hash binds them."""
    return f"{Decimal(value).quantize(Decimal('0.01'))}"


def normalised(content: Content) -> dict[str, Any]:
    """The content as plain JSON values, amounts to two decimals, dates ISO."""
    data = content.model_dump(mode="json")
    for term in data["terms"]:
        if term["amount"] is not None:
            term["amount"] = money(term["amount"])
        for part in term["instalments"]:
            part["amount"] = money(part["amount"])
    return data


def canonical(*, template: str, parties: list[PartySnapshot], content: Content) -> bytes:
    document = {
        "template": template,
        "parties": [p.model_dump(mode="json") for p in parties],
        "content": normalised(content),
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def content_sha256(*, template: str, parties: list[PartySnapshot], content: Content) -> str:
    return hashlib.sha256(
        canonical(template=template, parties=parties, content=content)
    ).hexdigest()
