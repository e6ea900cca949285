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
from sqlmodel.ext.asyncio.session import AsyncSession

from agreements import service as agreements_service
from confirmation.models import Application, Decision, Ground, ServiceProof
from confirmation.service import IssueRuling, parties_of
from service import cases
from service.cases import CHINA
from service.documents import seal
from service.documents import service as documents_service
from service.documents.models import DocumentKind
from service.i18n import gettext
from service.models import Case, Organisation, User

TEMPLATES = Path(__file__).resolve().parent / "templates" / "pdf"
ROLE_ZH = {"applicant": "申请人", "respondent": "被申请人", "third_party": "第三人"}
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
        html = (
            _environment()
            .get_template("ruling.html")
            .render(
                court=court.name if court else "",
                number=application.number or "",
                parties=[(ROLE_ZH.get(p.role, p.role), p.name) for p in parties],
                committee=committee.name if committee else "",
                agreement_date=zh_date(application.effective_at),
                clauses=clauses,
                outcome=decision.outcome,
                grounds=[GROUNDS_ZH[Ground(g)] for g in json.loads(decision.grounds)],
                reason=decision.reason,
                judge=judge.name if judge else "",
                date=zh_date(decision.at),
                code=code,
                verify_url=f"{base}/verify?code={code}",
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


async def attach_record(
    request: Request, session: AsyncSession, application: Application, case: Case
) -> None:
    """The mediation record goes with the application once it reaches the court: who, the
    agreement's versions and the audit trail of the mediation, sealed by the committee."""
    committee = await session.get(Organisation, case.org_id)
    parties = await parties_of(session, case)
    agreement = await agreements_service.live_agreement(session, case.id or 0)
    versions = await agreements_service.versions_of(session, agreement) if agreement else []
    events = await cases.case_events(session, case=case)
    labels = request.app.state.action_labels
    html = (
        _environment()
        .get_template("record.html")
        .render(
            committee=committee.name if committee else "",
            number=case.number,
            title=case.title,
            parties=[(ROLE_ZH.get(p.role, p.role), p.name) for p in parties],
            versions=[(v.number, zh_date(v.created_at), v.content_sha256) for v in versions],
            events=[
                (
                    e.at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M"),
                    gettext("zh_Hans", labels.get(e.action, e.action)),
                    e.actor_label,
                )
                for e in events
            ],
            date=zh_date(application.queued_at or application.created_at),
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
    application.record_sha256 = await request.app.state.store.put_bytes_async(sealed)
    session.add(application)
    await session.flush()
