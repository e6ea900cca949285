"""The confirmation domain as the app sees it: its routes, pages, tables and hooks."""

from __future__ import annotations

from pathlib import Path

from service.domain import Domain


def domain() -> Domain:
    return Domain(
        name="confirmation",
        templates=Path(__file__).resolve().parent / "templates",
        models=("confirmation.models",),
    )
