"""Every visible string on the zh-Hans pages is Chinese.

The main pages are rendered in zh-Hans with data of every kind they show (statuses, roles,
join links in each state, a history with each kind of actor, rooms, consents) and read as
a person (or a screen reader) would: text nodes, the page title, option labels and the
attributes that are read out. Every word in Latin letters must be one of the few proper
tokens a Chinese page keeps (a browser's name, "ID" ...) or a value the test itself made
(a name, a case number). This is a check per word, not per line: a line that is Chinese
but for one English code in it, such as "王调解员 (mediator)", fails.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import httpx

from rooms import service as rooms_service
from rooms.models import ConsentKind, RoomStatus
from service import audit, cases
from service.models import Role
from tests.conftest import Factory

# Words in Latin letters that a Chinese page keeps as they are, each for a reason.
PROPER_WORDS = {
    "Chrome",  # browser names, as the person sees them on their phone
    "Safari",
    "PDF",  # a file format, named so in Chinese too (PDF文件)
}
# Attributes whose text a person sees or hears.
READ_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt", "aria-roledescription")
LATIN_WORD = re.compile(r"[A-Za-z0-9]+(?:['’\-][A-Za-z0-9]+)*")
ONLY_LETTERS = re.compile(r"[A-Za-z]+(?:['’\-][A-Za-z]+)*")
PLACEHOLDER = re.compile(r"\{[A-Za-z_]+\}")
URL = re.compile(r"(?:https?://|/)[^\s\"'<>]*")


@dataclass
class Reader(HTMLParser):
    """The text of a page as it is read: text nodes outside scripts and styles, and the
    attributes read out. Text inside an element marked as another language (the language
    switcher's "English") is that language's, rightly."""

    texts: list[tuple[str, str]] = field(default_factory=list)  # (where, text)
    strings: str = ""  # the scripts' strings (the JSON block id="strings")
    _stack: list[tuple[str, bool]] = field(default_factory=list)  # (tag, foreign language)
    _in_strings: bool = False

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    VOID = frozenset({"br", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})

    def _foreign(self) -> bool:
        return any(foreign for _, foreign in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        lang = values.get("lang")
        foreign = lang is not None and not lang.lower().startswith("zh")
        if not (foreign or self._foreign()):
            for name in READ_ATTRIBUTES:
                if values.get(name):
                    self.texts.append((f"<{tag} {name}>", values[name]))
            if tag == "input" and values.get("type") in ("button", "submit", "reset"):
                self.texts.append((f"<{tag} value>", values.get("value", "")))
        self._in_strings = tag == "script" and values.get("id") == "strings"
        if tag not in self.VOID:
            self._stack.append((tag, foreign))

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            if self._stack.pop()[0] == tag:
                break
        self._in_strings = False

    def handle_data(self, data: str) -> None:
        tag = self._stack[-1][0] if self._stack else ""
        if tag == "script":
            if self._in_strings:
                self.strings += data
            return
        if tag == "style" or self._foreign() or not data.strip():
            return
        self.texts.append((f"<{tag}>", data.strip()))


def read(html: str) -> Reader:
    reader = Reader()
    reader.feed(html)
    reader.close()
    return reader


def english_words(html: str, made: set[str]) -> list[str]:
    """Each word in Latin letters only that is not a proper token or a made value, with
    where it was; the scripts' strings (shown by the page's scripts) are read too."""
    reader = read(html)
    texts = list(reader.texts)
    if reader.strings:  # templates whose {placeholders} the scripts fill
        texts += [
            ("script string", PLACEHOLDER.sub(" ", s)) for s in json.loads(reader.strings).values()
        ]
    found = []
    for where, text in texts:
        for value in sorted(made, key=len, reverse=True):  # longest first: names in names
            text = text.replace(value, " ")
        text = URL.sub(" ", text)
        for word in LATIN_WORD.findall(text):
            if ONLY_LETTERS.fullmatch(word) and word not in PROPER_WORDS:
                found.append(f"{word!r} in {where} {text.strip()[:80]!r}")
    return found


def test_the_reader_finds_an_english_code_inside_a_chinese_line() -> None:
    page = (
        '<html lang="zh-Hans"><head><title>案件</title>'
        '<script>const x = "English in code";</script></head><body>'
        "<li><time>2026-12-03 10:00</time> 状态变更 → 调解中 · 王调解员 (mediator)</li>"
        '<a lang="en" href="?lang=en">English</a>'
        '<input aria-label="Search">'
        '<code class="hash">e3b0c44298fc1c149afbf4c8996fb924</code>'
        "<p>请用 Chrome 打开 https://example.cn/join/abc 王某</p>"
        '<script type="application/json" id="strings">{"Copied": "Copied"}</script>'
        "</body></html>"
    )
    found = english_words(page, made={"王某"})
    assert [f.split(" ", 1)[0] for f in found] == ["'mediator'", "'Search'", "'Copied'"], found


@dataclass
class Case:
    """One case with everything its pages show, and the values the test made."""

    case_id: int
    room_id: int
    agreement_id: int
    made: set[str]
    staff: dict[str, httpx.AsyncClient]
    party: httpx.AsyncClient
    anonymous: httpx.AsyncClient


async def a_case_with_everything(factory: Factory, app: Any, clients: list[Any]) -> Case:
    def browser() -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        clients.append(client)
        return client

    committee = await factory.committee()
    court = await factory.court()
    names = {
        Role.mediator: "王调解员",
        Role.admin: "周管理员",
        Role.judge: "赵法官",
        Role.clerk: "钱书记员",
    }
    users = {
        role: await factory.user(
            role,
            court if role in (Role.judge, Role.clerk) else committee,
            name=name,
            # Letters only, and not among the made values: a page that showed a username
            # (an English-looking word to the reader, like the demo's "mediator") fails.
            username="".join(secrets.choice(string.ascii_lowercase) for _ in range(12)),
        )
        for role, name in names.items()
    }
    mediator = users[Role.mediator]
    case, (applicant, respondent) = await factory.case(mediator, summary="双方因借款发生纠纷。")
    staff = {}
    for role, user in users.items():
        staff[role.value] = browser()
        await factory.login(staff[role.value], user)
    desk = staff["mediator"]
    headers = await factory.login(desk, mediator)

    async def api(method: str, path: str, **kw: Any) -> Any:
        r = await desk.request(method, path, headers=headers, **kw)
        assert r.status_code in (200, 201), r.text
        return r.json()

    await api("POST", f"/api/cases/{case.id}/status", json={"status": "mediating"})
    link = (
        await api("POST", f"/api/cases/{case.id}/invitations", json={"party_id": applicant.id})
    )["url"]
    withdrawn = await api(
        "POST", f"/api/cases/{case.id}/invitations", json={"party_id": respondent.id}
    )
    await api("POST", f"/api/cases/{case.id}/invitations/{withdrawn['id']}/revoke")
    await factory.invite(mediator, case, respondent, valid_for=timedelta(0))  # expired at once
    party, anonymous = browser(), browser()
    assert (await party.get(link.replace("http://testserver", ""))).status_code == 303
    refused = await anonymous.get(withdrawn["url"].replace("http://testserver", ""))
    assert refused.status_code == 401

    # A first meeting the service ended by itself (as an idle room is), then the meeting on now.
    first = await api("POST", f"/api/cases/{case.id}/rooms", json={})
    async with factory.uow() as s:
        room = await rooms_service.get_room(s, first["id"])
        await rooms_service.set_status(s, room=room, to=RoomStatus.closed, actor=audit.SYSTEM)
    second = await api("POST", f"/api/cases/{case.id}/rooms", json={})
    async with factory.uow() as s:
        room = await rooms_service.get_room(s, second["id"])
        await rooms_service.record_consent(
            s,
            room=room,
            kind=ConsentKind.online_mediation,
            given=True,
            party_id=applicant.id,
            by_user_id=None,
            actor=cases.party_actor(applicant),
        )

    # The agreement, out for signing (its facts written, the template's blanks filled).
    agreement = await api("POST", f"/api/cases/{case.id}/agreement", json={"template": "debt"})
    content = {**agreement["version"]["content"], "facts": "双方于2026年3月1日借款，到期未还。"}
    await api(
        "PUT", f"/api/agreements/{agreement['id']}", json={"base_version": 1, "content": content}
    )
    await api("POST", f"/api/agreements/{agreement['id']}/send-for-signing")

    made = {case.number, case.title, committee.name, court.name}
    made |= {p.name for p in (applicant, respondent)} | {
        p.id_number or "" for p in (applicant, respondent)
    }
    made |= set(names.values())
    return Case(case.id or 0, second["id"], agreement["id"], made - {""}, staff, party, anonymous)


async def test_every_main_page_in_chinese_has_no_english_word(factory: Factory, app: Any) -> None:
    clients: list[httpx.AsyncClient] = []
    try:
        made = await a_case_with_everything(factory, app, clients)
        staff, party = made.staff, made.party
        pages = {
            "sign-in": (made.anonymous, "/"),
            "refused join link": (made.anonymous, "/join/not-a-link"),
            "admin's home": (staff["admin"], "/home"),
            "judge's home": (staff["judge"], "/home"),
            "clerk's home": (staff["clerk"], "/home"),
            "case list": (staff["mediator"], "/cases"),
            "new case": (staff["mediator"], "/cases/new"),
            "case page": (staff["mediator"], f"/cases/{made.case_id}"),
            "room page, mediator": (staff["mediator"], f"/rooms/{made.room_id}"),
            "party's case page": (party, "/my-case"),
            "room page, party": (party, f"/rooms/{made.room_id}"),
            "agreement editor": (staff["mediator"], f"/cases/{made.case_id}/agreement"),
            "signing page": (party, f"/agreements/{made.agreement_id}/sign"),
        }
        problems = {}
        for name, (client, path) in pages.items():
            r = await client.get(path)
            assert r.status_code in (200, 401), (name, r.status_code, r.text[:500])
            assert '<html lang="zh-Hans">' in r.text, name
            # The reader read the page (a parser that lost its way would find nothing).
            texts = read(r.text).texts
            assert len(texts) >= 5, (name, texts)
            if found := english_words(r.text, made.made):
                problems[name] = found
        assert not problems, json.dumps(problems, ensure_ascii=False, indent=1)
        # The same reading of an English page finds its words: the check can fail.
        english = await made.anonymous.get("/?lang=en")
        assert len(english_words(english.text, made.made)) >= 5

        # The history names each actor in Chinese: staff and parties by name and role,
        # the service itself and a visitor who was not signed in by what they are.
        case_page = (await staff["mediator"].get(f"/cases/{made.case_id}")).text
        history = case_page[case_page.index('<ol class="audit">') :]
        for shown in ("王调解员（调解员）", "（申请人）", "系统", "访客", "→ 调解中", "→ 已结束"):
            assert shown in history, shown
    finally:
        for client in clients:
            await client.aclose()
