"""Typed query-string dependencies, shared by the JSON API and the pages.

A page's filter form sends empty fields for "any", so an empty value means "not given";
anything else out of range (a control character in the search text included: PostgreSQL
cannot hold NUL) is refused the same way on both (422 for the API, an error page for a
page).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BeforeValidator

from service.models import CaseStatus, DisputeType
from service.schemas import SearchText


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


Blank = BeforeValidator(_blank_is_none)


@dataclass(frozen=True)
class CaseFilters:
    status: CaseStatus | None
    dispute_type: DisputeType | None
    q: str | None
    page: int
    per_page: int


async def _case_filters(
    status: Annotated[CaseStatus | None, Blank, Query()] = None,
    dispute_type: Annotated[DisputeType | None, Blank, Query()] = None,
    q: Annotated[SearchText | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> CaseFilters:
    return CaseFilters(status, dispute_type, (q or "").strip() or None, page, per_page)


CaseQuery = Annotated[CaseFilters, Depends(_case_filters)]
