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

import string
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, unescape

from rooms.strings import ROOM_SCRIPT_STRINGS
from service import i18n
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

# Only each package's *.py and templates/*.html: not tests, not the locale directory.
METHOD_MAP = [
    ("*.py", "python"),
    ("templates/*.html", "jinja2.ext.babel_extract"),
]
OPTIONS_MAP = {
    "templates/*.html": {"trim_blocks": "true", "lstrip_blocks": "true"},
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
    listed = {*SCRIPT_STRINGS, *ROOM_SCRIPT_STRINGS}
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


def test_translations_are_chinese() -> None:
    """Each translation differs from its msgid and holds CJK (none was left in English)."""
    untranslated = [
        msgid
        for msgid, text in entries().items()
        if text == msgid or not any("\u4e00" <= ch <= "\u9fff" for ch in text)
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
