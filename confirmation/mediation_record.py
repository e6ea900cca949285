"""The mediation record's facts (调解过程记录), gathered from what happened: the parties,
the meetings with their times and durations, the consent ledger and identity checks, the
recordings with each segment's SHA-256, the agreement's versions and the case's audit
trail. A plain view model; confirmation/document.py renders and issues it.

The rooms' facts come through rooms' service module (the confirmation domain may use it),
never through its tables directly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from agreements import service as agreements_service
from confirmation.service import parties_of
from rooms import service as rooms_service
from rooms.models import ConsentKind, RoomKind
from service import cases
from service.cases import CHINA
from service.i18n import gettext
from service.models import Case, Party
from service.personal import mask_id_number

ROLE_ZH = {"applicant": "申请人", "respondent": "被申请人", "third_party": "第三人"}
CONSENT_ZH = {
    ConsentKind.online_mediation: "同意在线调解",
    ConsentKind.recording: "同意录音录像",
    ConsentKind.identity_verified: "身份核验（调解员当场核对身份证件）",
    ConsentKind.sham_warning: "已告知虚假调解的法律后果",
}
ROOM_ZH = {RoomKind.mediation: "调解会议", RoomKind.confirmation: "司法确认询问"}


def at_zh(at: datetime | None) -> str:
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if at else "—"


def duration_zh(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "—"
    minutes = max(0, round((end - start).total_seconds() / 60))
    return f"{minutes // 60}小时{minutes % 60}分" if minutes >= 60 else f"{minutes}分钟"


@dataclass(frozen=True)
class PartyLine:
    role: str
    name: str
    id_number: str  # masked
    address: str
    id_label: str = "公民身份号码"
    address_label: str = "住"


@dataclass(frozen=True)
class Meeting:
    kind: str
    opened: str
    closed: str
    duration: str


@dataclass(frozen=True)
class ConsentLine:
    at: str
    who: str
    what: str
    given: bool


@dataclass(frozen=True)
class RecordingLine:
    who: str
    started: str
    stopped: str
    segments: tuple[tuple[int, str, str], ...]  # (seq, duration, sha256)
    gaps: int


@dataclass(frozen=True)
class RecordFacts:
    title: str
    number: str
    parties: tuple[PartyLine, ...]
    meetings: tuple[Meeting, ...]
    consents: tuple[ConsentLine, ...]
    identity_checks: tuple[ConsentLine, ...]
    recordings: tuple[RecordingLine, ...]
    versions: tuple[tuple[int, str, str], ...]  # (number, saved, sha256)
    events: tuple[tuple[str, str, str], ...]  # (at, what, who)


def party_line(party: Party) -> PartyLine:
    return PartyLine(
        role=ROLE_ZH.get(party.role, party.role),
        name=party.name,
        id_number=mask_id_number(party.id_number) or "—",
        address=party.address or "—",
        **(
            {"id_label": "统一社会信用代码", "address_label": "住所地"}
            if party.kind != "person"
            else {}
        ),
    )


async def gather(session: AsyncSession, case: Case, labels: dict[str, str]) -> RecordFacts:
    parties = await parties_of(session, case)
    names = {p.id: p.name for p in parties}
    rooms = await rooms_service.rooms_of_case(session, case_id=case.id or 0)
    meetings = tuple(
        Meeting(
            kind=ROOM_ZH.get(RoomKind(r.kind), r.kind),
            opened=at_zh(r.opened_at),
            closed=at_zh(r.closed_at),
            duration=duration_zh(r.opened_at, r.closed_at),
        )
        for r in sorted(rooms, key=lambda r: r.opened_at or r.created_at)
    )
    ledger = [
        ConsentLine(
            at=at_zh(c.at),
            who=names.get(c.party_id, "—") if c.party_id else "—",
            what=CONSENT_ZH.get(ConsentKind(c.kind), c.kind),
            given=c.given,
        )
        for c in await rooms_service.consents_of_case(session, case_id=case.id or 0)
    ]
    recordings = []
    for room in rooms:
        for stored in await rooms_service.recordings_of_room(session, room_id=room.id or 0):
            rec = stored.recording
            recordings.append(
                RecordingLine(
                    who=rec.participant_name,
                    started=at_zh(rec.started_at),
                    stopped=at_zh(rec.stopped_at),
                    segments=tuple(
                        (s.seq, f"{s.duration:.0f}秒", s.sha256) for s in stored.segments
                    ),
                    gaps=len(stored.gaps),
                )
            )
    agreement = await agreements_service.live_agreement(session, case.id or 0)
    versions = await agreements_service.versions_of(session, agreement) if agreement else []
    events = await cases.case_events(session, case=case)
    return RecordFacts(
        title=case.title,
        number=case.number,
        parties=tuple(party_line(p) for p in parties),
        meetings=meetings,
        consents=tuple(c for c in ledger if c.what != CONSENT_ZH[ConsentKind.identity_verified]),
        identity_checks=tuple(
            c for c in ledger if c.what == CONSENT_ZH[ConsentKind.identity_verified]
        ),
        recordings=tuple(recordings),
        versions=tuple((v.number, at_zh(v.created_at), v.content_sha256) for v in versions),
        events=tuple(
            (at_zh(e.at), gettext("zh_Hans", labels.get(e.action, e.action)), e.actor_label)
            for e in events
        ),
    )
