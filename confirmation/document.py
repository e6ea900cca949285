"""The confirmation's documents: the ruling (民事裁定书), sealed by the court, and the mediation
record that goes with the application. Rendered in the PDF workers, sealed with the
court's or committee's seal (service/documents), stored and recorded as issued."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agreements import service as agreements_service
from confirmation import record
from confirmation.decisions import IssueRuling
from confirmation.mediation_record import gather, party_line
from confirmation.models import Application, Decision, Ground, ServiceProof
from confirmation.service import parties_of
from service import audit
from service.cases import CHINA
from service.clock import now
from service.documents import seal
from service.documents import service as documents_service
from service.documents.marks import qr_svg, seal_svg
from service.documents.models import DocumentKind
from service.errors import InvalidTransition
from service.models import Case, Organisation, Party, User

TEMPLATES = Path(__file__).resolve().parent / "templates" / "pdf"
GROUNDS_ZH = {
    Ground.violates_mandatory_law: "违反法律强制性规定",
    Ground.harms_public_or_third_party: "损害国家利益、社会公共利益或者他人合法权益",
    Ground.violates_public_order: "违背公序良俗",
    Ground.not_voluntary: "违反自愿原则",
    Ground.content_unclear: "内容不明确",
    Ground.other: "其他不能进行司法确认的情形",
}


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _footer(base: str, code: str) -> dict[str, object]:
    """The footer's verification code (as printed) and the QR code of its /verify URL."""
    return {
        "code": documents_service.format_code(code),
        "verify_base": base,
        "qr": qr_svg(f"{base}/verify?code={code}"),
    }


def zh_date(at: datetime) -> str:
    day = at.astimezone(CHINA).date()
    return f"{day.year}年{day.month}月{day.day}日"


def ruling_issuer(request: Request, session: AsyncSession, case: Case) -> IssueRuling:
    """What the decision calls to issue the ruling: rendered, sealed by the court, stored,
    and served on each party's case page (a proof of service per party)."""

    async def issue(application: Application, decision: Decision) -> str:
        court = await session.get(Organisation, application.court_id)
        judge = await session.get(User, decision.judge_id)
        agreement = await agreements_service.live_agreement(session, case.id or 0)
        clauses: list[str] = []
        if agreement is not None:
            version = await agreements_service.version_of(
                session, agreement, agreement.signing_version or agreement.latest_version
            )
            clauses = [
                c.text for c in agreements_service.clauses_of(version) if c.key.startswith("term-")
            ]
        committee = await session.get(Organisation, case.org_id)
        parties = await parties_of(session, case)
        code = documents_service.new_code()
        base = request.app.state.settings.public_url
        court_name = court.name if court else ""
        try:  # the joint hearing is stated only when it is on record, complete
            await record.refuse_unless_complete(session, application=application, case=case)
            heard = True
        except InvalidTransition:
            heard = False
        html = (
            _environment()
            .get_template("ruling.html")
            .render(
                court=court_name,
                number=application.number or "",
                parties=[party_line(p) for p in parties],
                committee=committee.name if committee else "",
                applied_date=zh_date(application.queued_at or application.created_at),
                accepted_date=zh_date(application.accepted_at or application.created_at),
                agreement_date=zh_date(application.effective_at),
                clauses=clauses,
                outcome=decision.outcome,
                heard=heard,
                grounds=[GROUNDS_ZH[Ground(g)] for g in json.loads(decision.grounds)],
                reason=decision.reason,
                judge=judge.name if judge else "",
                date=zh_date(decision.at),
                seal=seal_svg(court_name, size_mm=42),
                **_footer(base, code),
            )
        )
        pdf = await request.app.state.pdf.render(html, case=case.id, application=application.id)
        sealed = await seal.seal(
            session,
            org_id=application.court_id,
            pdf=pdf,
            settings=request.app.state.settings,
            workers=request.app.state.pdf,
            reason="人民法院印章",
        )
        issued = await documents_service.issue(
            session,
            pdf=sealed,
            case_id=case.id or 0,
            kind=DocumentKind.ruling,
            source_id=decision.id or 0,
            version=None,
            code=code,
            org_id=application.court_id,
            store=request.app.state.store,
        )
        for party in parties:  # served: it reached the party's case page (OLR 29-33)
            session.add(
                ServiceProof(
                    application_id=application.id or 0,
                    party_id=party.id or 0,
                    document_sha256=issued.sha256,
                )
            )
        await session.flush()
        return issued.sha256

    return issue


async def received(
    session: AsyncSession, *, application: Application, party: Party, actor: audit.Actor
) -> bool:
    """The party opened the ruling served on their case page: it is received (OLR 29-33),
    and their 15 days to object run from today (confirmation/clock.py ``objection``). The
    first opening only: one conditional update decides, however many requests at once."""
    sha256 = application.ruling_sha256
    if sha256 is None:
        return False
    result = await session.exec(
        update(ServiceProof)
        .where(col(ServiceProof.document_sha256) == sha256)
        .where(col(ServiceProof.party_id) == party.id)
        .where(col(ServiceProof.opened_at).is_(None))
        .values(opened_at=now())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    await audit.record(
        session,
        actor=actor,
        action="confirmation.ruling_received",
        case_id=application.case_id,
        data={"application": application.id, "party": party.id, "ruling": sha256},
    )
    return True


async def receipts_of(session: AsyncSession, application: Application) -> list[ServiceProof]:
    """The ruling's proof of service, one row per party."""
    return list(
        (
            await session.exec(
                select(ServiceProof)
                .where(ServiceProof.application_id == application.id)
                .order_by(col(ServiceProof.id))
                .execution_options(populate_existing=True)
            )
        ).all()
    )


async def attach_record(
    request: Request, session: AsyncSession, application: Application, case: Case
) -> None:
    """The mediation record goes with the application once it reaches the court: gathered
    from what happened (confirmation/mediation_record.py), sealed by the committee and
    issued, so the court can verify the copy it is handed like any document we issue."""
    committee = await session.get(Organisation, case.org_id)
    court = await session.get(Organisation, application.court_id)
    facts = await gather(session, case, request.app.state.action_labels)
    code = documents_service.new_code()
    committee_name = committee.name if committee else ""
    html = (
        _environment()
        .get_template("record.html")
        .render(
            r=facts,
            committee=committee_name,
            court=court.name if court else "",
            date=zh_date(application.queued_at or application.created_at),
            seal=seal_svg(committee_name, size_mm=42),
            **_footer(request.app.state.settings.public_url, code),
        )
    )
    pdf = await request.app.state.pdf.render(html, case=case.id, application=application.id)
    sealed = await seal.seal(
        session,
        org_id=case.org_id,
        pdf=pdf,
        settings=request.app.state.settings,
        workers=request.app.state.pdf,
    )
    issued = await documents_service.issue(
        session,
        pdf=sealed,
        case_id=case.id or 0,
        kind=DocumentKind.record,
        source_id=application.id or 0,
        version=None,
        code=code,
        org_id=case.org_id,
        store=request.app.state.store,
    )
    application.record_sha256 = issued.sha256
    session.add(application)
    await session.flush()
