"""An agreement as a list of clauses: the text the document prints, and what changed.

The agreement is a Chinese legal document whatever the reader's page language, so clause
texts are Chinese. A clause has a stable key (``facts``, ``term-2``, ``other-1``), which is
what the diff between two versions compares: the same key's text before and after, with the
changed characters marked.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date
from typing import Literal

from agreements.content import Content, PartySnapshot, Term, money

MISSING = "〔未填写：{what}〕"
ROLE_ZH = {"applicant": "申请人", "respondent": "被申请人", "third_party": "第三人"}


@dataclass(frozen=True)
class Clause:
    key: str
    heading: str
    text: str


def zh_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _name(party_id: int | None, parties: dict[int, PartySnapshot], what: str) -> str:
    if party_id is None or party_id not in parties:
        return MISSING.format(what=what)
    party = parties[party_id]
    return f"{ROLE_ZH.get(party.role, '')}{party.name}"


def term_text(term: Term, parties: dict[int, PartySnapshot]) -> str:
    """One obligation as a sentence: who, to whom, what, how, where, by when."""
    obligor = _name(term.obligor, parties, "义务人")
    obligee = _name(term.obligee, parties, "权利人")
    due = zh_date(term.due) if term.due else MISSING.format(what="履行期限")
    how = f"以{term.method}方式" if term.method else ""
    where = f"在{term.place}" if term.place else ""
    if term.kind == "payment":
        amount = f"人民币{money(term.amount)}元" if term.amount else MISSING.format(what="金额")
        text = f"{obligor}于{due}前{where}{how}向{obligee}支付{amount}"
        if term.instalments:
            parts = "；".join(
                f"第{i}期于{zh_date(p.due)}前支付人民币{money(p.amount)}元"
                for i, p in enumerate(term.instalments, 1)
            )
            text += f"，分{len(term.instalments)}期履行：{parts}"
    else:
        act = term.act or MISSING.format(what="履行事项")
        text = f"{obligor}于{due}前{where}{how}向{obligee}履行：{act}"
    return text + "。"


def clauses(content: Content, parties: list[PartySnapshot]) -> list[Clause]:
    by_id = {p.id: p for p in parties}
    found = [
        Clause("facts", "纠纷主要事实", content.facts),
        Clause("disputed_matters", "争议事项", content.disputed_matters),
        Clause("responsibilities", "各方责任", content.responsibilities),
    ]
    found += [
        Clause(f"term-{i}", f"协议条款第{i}条", term_text(term, by_id))
        for i, term in enumerate(content.terms, 1)
    ]
    found += [
        Clause(f"other-{i}", f"其他约定第{i}条", text)
        for i, text in enumerate(content.other_terms, 1)
    ]
    found.append(
        Clause(
            "copies",
            "协议份数",
            f"本协议一式{content.copies}份，当事人各执一份，人民调解委员会留存一份，"
            "自各方当事人签名、调解员签名并加盖人民调解委员会印章之日起生效。",
        )
    )
    return found


# SequenceMatcher's work grows with the product of the lengths: two 1,500-character texts
# compare in tens of milliseconds (in a thread, off the loop); longer ones are shown replaced.
MAX_DIFF_WORK = 1500 * 1500

Change = Literal["added", "removed", "changed", "same"]
Op = tuple[Literal["same", "added", "removed"], str]


@dataclass(frozen=True)
class ClauseDiff:
    key: str
    heading: str
    change: Change
    before: str | None
    after: str | None
    ops: list[Op]  # the after-text in runs, with removed runs where they were


def diff(before: list[Clause], after: list[Clause]) -> list[ClauseDiff]:
    """Clause by clause, in the newer version's order, then the clauses it dropped."""
    old = {c.key: c for c in before}
    new_keys = {c.key for c in after}
    result = [_compare(old.get(c.key), c) for c in after]
    result += [
        ClauseDiff(c.key, c.heading, "removed", c.text, None, [("removed", c.text)])
        for c in before
        if c.key not in new_keys
    ]
    return result


def _compare(old: Clause | None, new: Clause) -> ClauseDiff:
    if old is None:
        return ClauseDiff(new.key, new.heading, "added", None, new.text, [("added", new.text)])
    if old.text == new.text:
        return ClauseDiff(new.key, new.heading, "same", old.text, new.text, [("same", new.text)])
    if len(old.text) * len(new.text) > MAX_DIFF_WORK:
        # Too long to compare character by character in a request: the clause as replaced.
        ops: list[Op] = [("removed", old.text), ("added", new.text)]
        return ClauseDiff(new.key, new.heading, "changed", old.text, new.text, ops)
    # Character by character: Chinese has no spaces between words to split on.
    matcher = difflib.SequenceMatcher(a=old.text, b=new.text, autojunk=False)
    ops = []
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        if tag == "equal":
            ops.append(("same", new.text[b1:b2]))
            continue
        if a2 > a1:
            ops.append(("removed", old.text[a1:a2]))
        if b2 > b1:
            ops.append(("added", new.text[b1:b2]))
    return ClauseDiff(new.key, new.heading, "changed", old.text, new.text, ops)
