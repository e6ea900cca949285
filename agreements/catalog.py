"""The agreement templates, one per kind of dispute (API.md, GET /api/templates).

Each is a Jinja2 template of the prose (facts, disputed matters, responsibilities, the
default clauses: ``templates/clauses/<id>.j2``, a block per field) plus the
terms it starts with. The parties' names come from the case; blanks (　　) are for the
mediator to fill. The prose is plain text: the document escapes it when it prints it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from agreements.content import Content, Instalment, PartySnapshot, Term
from service.i18n import N_

_CLAUSES = Path(__file__).resolve().parent / "templates" / "clauses"


@dataclass(frozen=True)
class Template:
    id: str
    dispute_type: str
    name: str  # msgid
    description: str  # msgid
    terms: Callable[[int | None, int | None, date], list[Term]]


def _payment(
    method: str, *, instalments: int = 0, amount: str = "3000.00"
) -> Callable[[int | None, int | None, date], list[Term]]:
    def terms(obligor: int | None, obligee: int | None, today: date) -> list[Term]:
        if not instalments:
            return [
                Term(
                    kind="payment",
                    obligor=obligor,
                    obligee=obligee,
                    amount=amount,
                    method=method,
                    due=today + timedelta(days=30),
                )
            ]
        share = f"{float(amount) / instalments:.2f}"
        parts = [
            Instalment(due=today + timedelta(days=30 * (i + 1)), amount=share)
            for i in range(instalments)
        ]
        return [
            Term(
                kind="payment",
                obligor=obligor,
                obligee=obligee,
                amount=amount,
                method=method,
                due=parts[-1].due,
                instalments=parts,
            )
        ]

    return terms


def _repair(obligor: int | None, obligee: int | None, today: date) -> list[Term]:
    return [
        Term(
            kind="act",
            obligor=obligor,
            obligee=obligee,
            act="修复双方共用墙体，恢复原状",
            method="自行或委托有资质的施工单位",
            due=today + timedelta(days=30),
        ),
        *_payment("现金或银行转账", amount="2000.00")(obligor, obligee, today),
    ]


TEMPLATES = {
    t.id: t
    for t in [
        Template(
            "property_management",
            "property_management",
            N_("Property management fees"),
            N_("Unpaid property management fees, paid at once or by instalments."),
            _payment("银行转账", amount="2400.00"),
        ),
        Template(
            "debt",
            "debt",
            N_("Debt or loan, repaid by instalments"),
            N_("A loan repaid in dated instalments."),
            _payment("银行转账", instalments=3, amount="30000.00"),
        ),
        Template(
            "neighbour",
            "neighbour",
            N_("Neighbour dispute"),
            N_("Repairs and compensation between neighbours."),
            _repair,
        ),
        Template(
            "family",
            "family",
            N_("Child support and property after divorce"),
            N_("Support and the division of property; not the marriage itself."),
            _payment("银行转账", instalments=12, amount="12000.00"),
        ),
        Template(
            "labour",
            "labour",
            N_("Unpaid wages"),
            N_("Wages owed by an employer, paid by a date."),
            _payment("银行转账", amount="8000.00"),
        ),
        Template(
            "traffic",
            "traffic",
            N_("Traffic accident compensation"),
            N_("Compensation for injury and damage after a road accident."),
            _payment("银行转账", amount="15000.00"),
        ),
    ]
}


@cache
def _environment() -> Environment:
    # Our own plain-text templates; party names are values, never template source.
    return Environment(  # noqa: S701 (plain text, escaped when the document prints it)
        loader=FileSystemLoader(_CLAUSES), undefined=StrictUndefined, keep_trailing_newline=False
    )


def starting_content(template: Template, parties: list[PartySnapshot], today: date) -> Content:
    """The template filled in for this case: names from the case, terms from the template
    (the respondent owes the applicant, which the mediator changes where it is the other
    way round)."""
    applicant = next((p for p in parties if p.role == "applicant"), None)
    respondent = next((p for p in parties if p.role == "respondent"), None)
    names = {
        "obligor": _label(respondent, "被申请人"),
        "obligee": _label(applicant, "申请人"),
    }
    source = _environment().get_template(f"{template.id}.j2")
    context = source.new_context(names)

    def block(name: str) -> str:
        return "".join(source.blocks[name](context)).strip()

    return Content(
        facts=block("facts"),
        disputed_matters=block("disputed_matters"),
        responsibilities=block("responsibilities"),
        terms=template.terms(
            respondent.id if respondent else None, applicant.id if applicant else None, today
        ),
        other_terms=[line.strip() for line in block("other_terms").splitlines() if line.strip()],
        copies=len(parties) + 1,
    )


def _label(party: PartySnapshot | None, role: str) -> str:
    return f"{role}{party.name}" if party else role
