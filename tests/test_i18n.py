"""The Chinese catalogue is complete and tidy.

Every msgid the service can show is extracted with Babel, the same way a translator's
``pybabel extract`` would see it: Python (``_``, ``N_``, ``gettext`` and the error classes,
whose first argument is the message) and Jinja2 templates (``_``), plus the strings the
browser scripts show (``SCRIPT_STRINGS``) and the join-link refusals (``REFUSALS``), which
are kept in lists and dicts rather than at call sites.

Each msgid must have a non-empty zh_Hans translation that keeps its ``{placeholders}``;
the catalogue must hold no fuzzy entries and no msgids the source no longer uses.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import string
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, unescape

from agreements.models import AgreementStatus, SignMethod
from agreements.service import STATUS_LABELS as AGREEMENT_STATUS_LABELS
from confirmation.competence import BASIS_LABELS
from confirmation.models import ApplicationStatus, Basis, Ground, Outcome
from confirmation.service import STATUS_LABELS as APPLICATION_STATUS_LABELS
from rooms.models import ConsentKind, RoomKind, RoomStatus
from rooms.pages import CONSENT_LABELS, ROOM_KIND_LABELS, ROOM_STATUS_LABELS
from rooms.strings import ROOM_SCRIPT_STRINGS
from service import cases, i18n, invitations
from service.app import default_domains
from service.history import ACTOR_LABELS
from service.models import (
    CaseStatus,
    CommitteeLevel,
    DisputeType,
    Industry,
    Invitation,
    OrgKind,
    PartyKind,
    PartyRole,
    Role,
)
from service.pages import SCRIPT_STRINGS
from service.router import REFUSALS

ROOT = Path(__file__).resolve().parent.parent
SERVICE = ROOT / "service"
# Every domain package whose code or pages show text; each has *.py and templates/.
PACKAGES = [ROOT / name for name in ("service", "rooms", "agreements", "confirmation")]
CATALOGUE = SERVICE / "locale" / "zh_Hans" / "LC_MESSAGES" / "messages.po"

ERROR_CLASSES = (
    "MediationError",
    "NotAuthenticated",
    "NoPartySession",
    "Forbidden",
    "NotFound",
    "Conflict",
    "InvalidTransition",
    "Invalid",
    "TooManyAttempts",
)
# Babel keyword specs: None means "the first positional argument is the msgid".
# service.i18n.gettext(language, message, **params) takes the message second.
PYTHON_KEYWORDS: dict[str, tuple[int, ...] | None] = {
    "_": None,
    "N_": None,
    "gettext": (2,),
    **{name: None for name in ERROR_CLASSES},
}
TEMPLATE_KEYWORDS: dict[str, tuple[int, ...] | None] = {"_": None}

# Only each package's *.py and templates/**.html: not tests, not the locale directory.
# At any depth: service/documents/*.py, and a domain's templates/<domain>/*.html.
METHOD_MAP = [
    ("**.py", "python"),
    ("templates/**.html", "jinja2.ext.babel_extract"),
]
OPTIONS_MAP = {
    "templates/**.html": {"trim_blocks": "true", "lstrip_blocks": "true"},
}


@cache
def extracted() -> dict[str, list[str]]:
    """Each msgid in the source, with the places it occurs (``file:line``)."""
    found: dict[str, list[str]] = {}

    def add(message: str, where: str) -> None:
        found.setdefault(message, []).append(where)

    for package in PACKAGES:

        def keep(path: str, package: Path = package) -> bool:
            # extract_from_dir calls this for directories too; skip locale/ and caches.
            rel = Path(path).relative_to(package)
            return not rel.parts or rel.parts[0] not in {"locale", "__pycache__"}

        for method, keywords in (("python", PYTHON_KEYWORDS), ("jinja2", TEMPLATE_KEYWORDS)):
            method_map = [m for m in METHOD_MAP if m[1].startswith(method)]
            for filename, lineno, message, _comments, _context in extract_from_dir(
                package,
                method_map=method_map,
                options_map=OPTIONS_MAP,
                keywords=keywords,
                directory_filter=keep,
            ):
                assert isinstance(message, str), f"{filename}:{lineno}: plural forms are unused"
                add(message, f"{package.name}/{filename}:{lineno}")
    for message in SCRIPT_STRINGS:
        add(message, "service/pages.py:SCRIPT_STRINGS")
    for message in ROOM_SCRIPT_STRINGS:
        add(message, "rooms/strings.py:ROOM_SCRIPT_STRINGS")
    for domain in default_domains():  # the strings each domain's scripts show
        for message in domain.script_strings:
            add(message, f"{domain.name}: Domain.script_strings")
    for key, message in REFUSALS.items():
        add(message, f"service/router.py:REFUSALS[{key!r}]")
    return found


@cache
def catalogue() -> Catalog:
    with CATALOGUE.open("rb") as fh:
        return read_po(fh, locale="zh")


@cache
def raw_entries() -> list[tuple[str, str]]:
    """(msgid, msgstr) pairs exactly as written in the .po file, header first."""
    pairs: list[tuple[str, str]] = []
    current: dict[str, list[str]] = {}
    key = ""
    for line in [*CATALOGUE.read_text(encoding="utf-8").splitlines(), "msgid END"]:
        if line.startswith(("msgid ", "msgstr ")):
            if line.startswith("msgid ") and current:
                pairs.append(("".join(current["msgid"]), "".join(current.get("msgstr", []))))
                current = {}
            key, _, rest = line.partition(" ")
            current[key] = [unescape(rest)]
        elif line.startswith('"'):
            current[key].append(unescape(line))
    return pairs


def placeholders(text: str) -> Counter[str]:
    """The ``{name}`` fields of a str.format template (the JS ``t()`` uses the same form)."""
    return Counter(field for _, field, _, _ in string.Formatter().parse(text) if field is not None)


def entries() -> dict[str, str]:
    return {str(m.id): str(m.string) for m in catalogue() if m.id and isinstance(m.id, str)}


# -- extraction sanity: the extractor really sees each kind of source ------------------------


@pytest.mark.parametrize(
    "msgid",
    [
        "Sign in",  # template, plain
        "Hello, {name}",  # template, with a keyword parameter
        "Mediating",  # N_() in cases.py
        "Wrong username or password.",  # gettext(language, "...") in router.py
        "Open the join link your mediator sent you.",  # NoPartySession(...) in auth.py
        "No such case.",  # NotFound(...)
        "Too many failed sign-ins. Wait {minutes} minutes and try again.",  # TooManyAttempts
        "A case needs at least one applicant and one respondent.",  # Invalid(), multi-line
        "The birth date inside this ID number does not exist.",  # personal.py N_()
        "A unified social credit code has 18 letters and digits (no I, O, S, V or Z).",
        "Copied",  # SCRIPT_STRINGS
        "This join link has expired. Ask your mediator for a new one.",  # REFUSALS
    ],
)
def test_extraction_sees_every_kind_of_source(msgid: str) -> None:
    assert msgid in extracted()


def test_extraction_ignores_non_literals() -> None:
    # _(status_labels[...]), Invalid(problem, ...), tr.gettext(s): nothing to extract.
    assert all(message for message in extracted())
    assert "reason" not in extracted()  # Invalid("...", field="reason") takes only arg 1


def test_script_strings_cover_the_scripts() -> None:
    """A t("...") in static/js that is missing from SCRIPT_STRINGS would stay in English."""
    shown = {
        message: f"static/js/{filename}:{lineno}"
        for filename, lineno, message, _comments, _context in extract_from_dir(
            ROOT / "static" / "js",
            method_map=[("**.js", "javascript")],
            options_map={"**.js": {"parse_template_string": "true"}},
            keywords={"t": None},
        )
    }
    assert shown, "no t() calls found: has the scripts' translation helper been renamed?"
    listed = {
        *SCRIPT_STRINGS,
        *ROOM_SCRIPT_STRINGS,
        *(m for d in default_domains() for m in d.script_strings),
    }
    missing = {m: where for m, where in shown.items() if m not in listed}
    assert not missing, missing


# -- the catalogue --------------------------------------------------------------------------


def test_catalogue_header() -> None:
    # Read as written: Babel's parsed mime_headers lower-case the charset.
    header = dict(line.split(": ", 1) for line in raw_entries()[0][1].splitlines() if ": " in line)
    assert raw_entries()[0][0] == ""
    assert header["Language"] == "zh_Hans"
    assert header["Content-Type"] == "text/plain; charset=UTF-8"
    assert header["Plural-Forms"] == "nplurals=1; plural=0;"
    assert catalogue().num_plurals == 1


def test_every_msgid_is_translated() -> None:
    have = entries()
    missing = {
        msgid: places for msgid, places in extracted().items() if not have.get(msgid, "").strip()
    }
    assert not missing, "untranslated:\n" + "\n".join(
        f"  {msgid!r}  ({', '.join(places)})" for msgid, places in sorted(missing.items())
    )


def test_translations_keep_placeholders() -> None:
    wrong = {
        msgid: text
        for msgid, text in entries().items()
        if text and placeholders(text) != placeholders(msgid)
    }
    assert not wrong, wrong


def test_translations_format_with_their_parameters() -> None:
    for msgid, text in entries().items():
        params = {name: "x" for name in placeholders(msgid)}
        text.format(**params)  # no stray braces that str.format would choke on


def words_of(msgid: str) -> str:
    """The msgid without its placeholders: what there is to translate."""
    return "".join(literal for literal, _, _, _ in string.Formatter().parse(msgid))


def test_translations_are_chinese() -> None:
    """Each translation differs from its msgid and holds CJK (none was left in English).
    A msgid with no words, only placeholders and punctuation ("{name} ({role})"), needs
    Chinese punctuation rather than words."""
    untranslated = [
        msgid
        for msgid, text in entries().items()
        if text == msgid
        or (
            any("a" <= ch.lower() <= "z" for ch in words_of(msgid))
            and not any("\u4e00" <= ch <= "\u9fff" for ch in text)
        )
    ]
    assert not untranslated, untranslated


def test_no_fuzzy_entries() -> None:
    fuzzy = [m.id for m in catalogue() if m.id and m.fuzzy]
    assert not fuzzy, fuzzy
    assert not catalogue().fuzzy, "the header is marked fuzzy"


def test_no_obsolete_msgids() -> None:
    assert not catalogue().obsolete, f"#~ entries: {list(catalogue().obsolete)}"
    stale = sorted(set(entries()) - set(extracted()))
    assert not stale, f"msgids no longer in the source: {stale}"


def test_no_duplicate_msgids() -> None:
    # read_po silently merges duplicates (the first translation wins), so read the raw file.
    duplicates = [m for m, n in Counter(m for m, _ in raw_entries()).items() if n > 1]
    assert not duplicates, duplicates
    assert len(raw_entries()) == len(entries()) + 1  # plus the header


# -- values shown from enums and codes -----------------------------------------------------

# Every StrEnum a page shows, with the labels it is shown through. A page renders
# _(labels[value]), never the value: the value is a code, English to a person.
SHOWN_ENUMS: list[tuple[type[StrEnum], Mapping[str, str]]] = [
    (AgreementStatus, AGREEMENT_STATUS_LABELS),
    (ApplicationStatus, APPLICATION_STATUS_LABELS),
    (Basis, BASIS_LABELS),
    (CaseStatus, cases.STATUS_LABELS),
    (DisputeType, cases.DISPUTE_LABELS),
    (PartyRole, cases.PARTY_ROLE_LABELS),
    (PartyKind, cases.PARTY_KIND_LABELS),
    (Role, cases.STAFF_ROLE_LABELS),
    (RoomStatus, ROOM_STATUS_LABELS),
    (RoomKind, ROOM_KIND_LABELS),
    (ConsentKind, CONSENT_LABELS),
]
# Enums no page shows yet (no page lists organisations). The page that first shows one
# needs a labels dict, and the enum moves to SHOWN_ENUMS.
NOT_SHOWN: set[type[StrEnum]] = {OrgKind, CommitteeLevel, Industry, SignMethod, Outcome, Ground}
MODEL_MODULES = ("service.models", "rooms.models", "agreements.models", "confirmation.models")
# Actions whose data names the state they moved something to ("to"): the case history
# shows that state too, labelled under "<action>/<state>".
STATE_CHANGES: dict[str, type[StrEnum]] = {
    "case.status_changed": CaseStatus,
    "room.status_changed": RoomStatus,
}
# Actions built at run time (f"consent.{kind}"): the enum they are built from.
BUILT_ACTIONS: dict[str, type[StrEnum]] = {
    "consent.{}": ConsentKind,
    "agreement.{}": AgreementStatus,
    "confirmation.{}": ApplicationStatus,
}


def model_enums() -> set[type[StrEnum]]:
    found = set()
    for name in MODEL_MODULES:
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, StrEnum) and value.__module__ == name:
                found.add(value)
    return found


def action_labels() -> dict[str, str]:
    """As the app merges them (service/app.py): service's and every domain's."""
    return {
        **cases.ACTION_LABELS,
        **{k: v for d in default_domains() for k, v in d.action_labels.items()},
    }


def translated(msgid: str) -> bool:
    text = entries().get(msgid, "")
    return text != msgid and any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_every_enum_of_the_models_is_accounted_for() -> None:
    """A new enum (or one moved between modules) is either labelled or known not shown."""
    shown = {enum for enum, _ in SHOWN_ENUMS}
    assert not shown & NOT_SHOWN
    assert model_enums() == shown | NOT_SHOWN, "list the new enum in SHOWN_ENUMS or NOT_SHOWN"


@pytest.mark.parametrize(("enum", "labels"), SHOWN_ENUMS, ids=lambda v: getattr(v, "__name__", ""))
def test_every_member_shown_has_a_chinese_label(
    enum: type[StrEnum], labels: Mapping[str, str]
) -> None:
    assert set(labels) == set(enum), f"{enum.__name__}: labels for exactly its members"
    missing = {member.value: labels[member] for member in enum if not translated(labels[member])}
    assert not missing, f"{enum.__name__}: labels not in the catalogue in Chinese: {missing}"


def test_every_invitation_state_has_a_chinese_label() -> None:
    at = datetime(2026, 12, 3, tzinfo=UTC)
    later, earlier = at + timedelta(days=1), at - timedelta(days=1)
    states = {
        invitations.invitation_state(Invitation(expires_at=later), at),
        invitations.invitation_state(Invitation(expires_at=earlier), at),
        invitations.invitation_state(Invitation(expires_at=later, revoked_at=earlier), at),
    }
    assert states == set(invitations.INVITATION_STATE_LABELS)
    assert all(translated(m) for m in invitations.INVITATION_STATE_LABELS.values())


def _calls(name: str) -> Iterator[tuple[str, ast.Call]]:
    """Every call of a function or method called ``name`` in the packages' code."""
    for package in PACKAGES:
        for path in sorted(package.rglob("*.py")):
            if "locale" in path.parts:
                continue
            where = str(path.relative_to(ROOT))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called == name:
                    yield f"{where}:{node.lineno}", node


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def recorded_case_actions() -> dict[str, str]:
    """Each audit action written with a case (so shown in its history) -> where. An action
    built at run time appears as its pattern, e.g. "consent.{}"."""
    found: dict[str, str] = {}
    for where, call in _calls("record"):
        action, case_id = _keyword(call, "action"), _keyword(call, "case_id")
        if action is None or case_id is None:
            continue  # not an audit record, or one with no case: no case page shows it
        if isinstance(action, ast.Constant) and isinstance(action.value, str):
            found[action.value] = where
        elif isinstance(action, ast.JoinedStr):
            pattern = "".join(
                str(part.value) if isinstance(part, ast.Constant) else "{}"
                for part in action.values
            )
            found[pattern] = where
        else:
            pytest.fail(f"{where}: an audit action that is neither a literal nor an f-string")
        data = _keyword(call, "data")
        moves = isinstance(data, ast.Dict) and any(
            isinstance(k, ast.Constant) and k.value == "to" for k in data.keys
        )
        if moves and isinstance(action, ast.Constant):
            assert action.value in STATE_CHANGES, f"{where}: list {action.value} in STATE_CHANGES"
    return found


def test_the_extraction_of_actions_sees_them_all() -> None:
    actions = recorded_case_actions()
    assert {"case.created", "case.status_changed", "invitation.refused"} <= set(actions)
    assert {"room.created", "room.status_changed", "consent.{}"} <= set(actions)


def test_every_action_in_a_case_history_has_a_chinese_label() -> None:
    labels = action_labels()
    wanted: dict[str, str] = {}
    for action, where in recorded_case_actions().items():
        if "{}" in action:
            assert action in BUILT_ACTIONS, f"{where}: list {action!r} in BUILT_ACTIONS"
            for member in BUILT_ACTIONS[action]:
                wanted[action.replace("{}", member.value)] = where
        else:
            wanted[action] = where
    for action, enum in STATE_CHANGES.items():
        for member in enum:
            wanted[f"{action}/{member.value}"] = f"the state {action} moved to"
    missing = {a: w for a, w in wanted.items() if a not in labels}
    assert not missing, f"audit actions with no label: {missing}"
    untranslated = {a: labels[a] for a in wanted if not translated(labels[a])}
    assert not untranslated, untranslated


def test_every_kind_of_actor_in_a_case_history_has_a_chinese_label() -> None:
    """People (staff, parties) are shown by name and role; every other kind of actor by a
    label: the system, the command line, a visitor who was not signed in."""
    kinds = set()
    for where, call in _calls("Actor"):
        first = call.args[0] if call.args else None
        assert isinstance(first, ast.Constant), f"{where}: an actor kind that is not a literal"
        kinds.add(first.value)
    assert {"system", "cli", "anonymous", "user", "party"} <= kinds
    assert kinds - {"user", "party"} <= set(ACTOR_LABELS), kinds
    assert all(translated(m) for m in ACTOR_LABELS.values())


# -- the running translation function --------------------------------------------------------


def test_gettext_chinese_and_english() -> None:
    zh = i18n.gettext("zh_Hans", "Sign in")
    assert zh != "Sign in"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh)
    assert i18n.gettext("en", "Sign in") == "Sign in"


def test_gettext_formats_parameters_in_both_languages() -> None:
    zh = i18n.gettext("zh_Hans", "Hello, {name}", name="王某")
    assert "王某" in zh and "{" not in zh and zh != "Hello, 王某"
    assert i18n.gettext("en", "Hello, {name}", name="Wang") == "Hello, Wang"


def test_default_language_is_chinese() -> None:
    assert i18n.pick_language(None, "fr") == "zh_Hans"
    assert i18n.gettext(i18n.pick_language(), "Sign out") == entries()["Sign out"]


# -- rendered pages ---------------------------------------------------------------------------


async def test_sign_in_page_in_chinese_and_english(client) -> None:
    r = await client.get("/")
    assert r.status_code == 200
    assert '<html lang="zh-Hans">' in r.text
    assert entries()["Staff sign-in"] in r.text
    assert "Staff sign-in" not in r.text
    r = await client.get("/?lang=en")
    assert '<html lang="en">' in r.text
    assert "Staff sign-in" in r.text


async def test_case_page_in_chinese(client, factory, world) -> None:
    await factory.login(client, world.mediator)
    r = await client.get(f"/cases/{world.case.id}")
    assert r.status_code == 200, r.text
    zh = entries()
    for msgid in ("Parties", "Join links", "Start mediation", "Intake", "Applicant", "Respondent"):
        assert zh[msgid] in r.text, msgid
    # The script strings are rendered into the page, translated.
    assert f'"Copied": "{zh["Copied"]}"' in r.text


async def test_refused_join_link_is_explained_in_chinese(client) -> None:
    r = await client.get("/join/not-a-real-token")
    assert r.status_code == 401
    assert entries()[REFUSALS["unknown"]] in r.text


async def test_api_error_in_chinese(client, factory, world) -> None:
    headers = await factory.login(client, world.mediator)
    r = await client.get("/api/cases/999999999", headers=headers)
    assert r.status_code == 404
    assert r.json()["detail"] == entries()["No such case."]
