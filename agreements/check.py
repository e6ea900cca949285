"""Would a court confirm this agreement? Run on every save; errors block signing.

Errors are what makes a term indefinite, which a court rejects as "content unclear"
(Interp. 360; LEGAL.md: every obligation names obligor, obligee, what, how, where and by
when). Warnings are matters a court will not confirm at all (Interp. 357): the mediator
decides, and each warning names its rule. Messages are msgids with parameters, translated
where shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from agreements.content import Content, PartySnapshot
from service.i18n import N_


@dataclass(frozen=True)
class Finding:
    level: Literal["error", "warning"]
    code: str
    clause: str | None  # the clause key (agreements/clauses.py), or None for the whole
    message: str  # msgid
    rule: str  # where the rule comes from
    params: dict[str, Any] = field(default_factory=dict)


BLANK = "　　"  # the templates' blanks: two ideographic spaces
UNCLEAR = "Interp. 360 (content unclear); PML 29"
NOT_ADMISSIBLE = "Interp. 357"

# Matters a court does not confirm, as the words that usually state them.
_STATUS = re.compile(r"离婚|解除婚姻|婚姻关系|亲子关系|收养|抚养关系的?确认|断绝.{0,4}关系")
_OWNERSHIP = re.compile(r"所有权|确权|产权归|权属|知识产权|专利权|商标权|著作权")


def check(content: Content, parties: list[PartySnapshot], *, today: date) -> list[Finding]:
    found: list[Finding] = []
    ids = {p.id for p in parties}
    if not content.facts.strip():
        found.append(_error("facts_missing", "facts", N_("The main facts are not written.")))
    for key in ("facts", "disputed_matters", "responsibilities"):
        if BLANK in getattr(content, key):
            found.append(
                _error("blank", key, N_("A template blank (　　) is still to be filled in."))
            )
    if content.copies < len(parties) + 1:
        found.append(
            _error(
                "copies",
                "copies",
                N_("One copy for each party and one for the committee: at least {n} copies."),
                n=len(parties) + 1,
            )
        )
    if not content.terms:
        found.append(_error("no_terms", None, N_("The agreement has no terms yet.")))
    for i, term in enumerate(content.terms, 1):
        key = f"term-{i}"
        if term.obligor is None or term.obligor not in ids:
            found.append(_error("obligor", key, N_("Term {n}: who owes it is missing."), n=i))
        if term.obligee is None or term.obligee not in ids:
            found.append(
                _error("obligee", key, N_("Term {n}: to whom it is owed is missing."), n=i)
            )
        if term.obligor is not None and term.obligor == term.obligee:
            found.append(_error("same_party", key, N_("Term {n}: a party owes it to itself."), n=i))
        if term.kind == "payment" and term.amount is None:
            found.append(_error("amount", key, N_("Term {n}: the amount is missing."), n=i))
        if term.kind == "act" and not (term.act and term.act.strip()):
            found.append(_error("act", key, N_("Term {n}: what is to be done is missing."), n=i))
        if term.due is None:
            found.append(_error("due", key, N_("Term {n}: the date it is due is missing."), n=i))
        for day in [term.due, *(p.due for p in term.instalments)]:
            if day is not None and day < today:
                found.append(_error("past", key, N_("Term {n}: a date has passed."), n=i))
                break
        if term.instalments:
            found += _instalments(term.kind, term.amount, term.instalments, term.due, key, i)
    # What the parties agree to do, not the facts, which may well tell of a divorce.
    text = "\n".join([t.act or "" for t in content.terms] + content.other_terms)
    if _STATUS.search(text):
        found.append(
            Finding(
                "warning",
                "status_relation",
                None,
                N_(
                    "A court does not confirm status relations (marriage, parent and child, "
                    "adoption): the agreement may settle support and property, not the "
                    "status itself."
                ),
                NOT_ADMISSIBLE,
            )
        )
    if _OWNERSHIP.search(text):
        found.append(
            Finding(
                "warning",
                "ownership",
                None,
                N_(
                    "A court does not confirm who owns property or intellectual property "
                    "rights: state the acts each party performs instead."
                ),
                NOT_ADMISSIBLE,
            )
        )
    return found


def _instalments(
    kind: str, amount: str | None, parts: list[Any], due: date | None, key: str, n: int
) -> list[Finding]:
    if kind != "payment":
        return [
            _error("instalments_act", key, N_("Term {n}: only a payment has instalments."), n=n)
        ]
    found = []
    total = sum((Decimal(p.amount) for p in parts), Decimal(0))
    if amount is not None and total != Decimal(amount):
        found.append(
            _error(
                "instalments_sum",
                key,
                N_("Term {n}: the instalments add up to {sum} yuan, not {amount}."),
                n=n,
                sum=f"{total:.2f}",
                amount=f"{Decimal(amount):.2f}",
            )
        )
    days = [p.due for p in parts]
    if days != sorted(days) or len(set(days)) != len(days):
        found.append(
            _error(
                "instalments_order", key, N_("Term {n}: instalments must come in date order."), n=n
            )
        )
    if due is not None and days and max(days) > due:
        found.append(
            _error(
                "instalments_late",
                key,
                N_("Term {n}: an instalment falls after the term is due."),
                n=n,
            )
        )
    return found


def _error(code: str, clause: str | None, message: str, **params: Any) -> Finding:
    return Finding("error", code, clause, message, UNCLEAR, params)


def blocking(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.level == "error"]
