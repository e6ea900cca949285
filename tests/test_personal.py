"""Personal data: resident ID and credit code checks, and masking in responses, pages and logs."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from service import logs
from service.models import Case, Party, Role
from service.personal import (
    id_check_char,
    mask_id_number,
    mask_in_text,
    normalise_id_number,
    resident_id_problem,
    uscc_check_char,
    uscc_problem,
)
from tests.conftest import Factory, unique, valid_id

VALID_X = "11010519491231002X"
VALID_USCC = "91350100M000100Y43"


def masked(id_number: str) -> str:
    return id_number[:6] + "*" * 8 + id_number[-4:]


def with_check_digit(first17: str) -> str:
    return first17 + id_check_char(first17)


# -- resident ID numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        VALID_X,
        with_check_digit("11010519491231002"),
        with_check_digit("14040320000229123"),  # 29 February of a leap year
        with_check_digit("44030619000101001"),  # the earliest year allowed
        valid_id(),
        valid_id("19750505", "440306"),
    ],
)
def test_valid_resident_ids_pass(value: str) -> None:
    """Well-formed IDs with a real birth date and the right check character have no problem."""
    assert resident_id_problem(value) is None


def test_check_character_can_be_x() -> None:
    """MOD 11-2 gives X for a remainder of 2: 11010519491231002 -> X."""
    assert id_check_char("11010519491231002") == "X"
    assert VALID_X.endswith("X")


def test_wrong_check_digit_is_named() -> None:
    """Any other last character than the computed one is refused as a wrong check digit."""
    good = valid_id()
    for last in "0123456789X":
        if last != good[-1]:
            problem = resident_id_problem(good[:17] + last)
            assert problem and "check digit" in problem


@pytest.mark.parametrize(
    "birth",
    ["19990230", "20010229", "19801301", "19800000", "19800132", "18991231", "20990101"],
)
def test_impossible_birth_date_is_refused(birth: str) -> None:
    """30 February, 29 February of a common year, month 13, day 0 or 32, before 1900, the future."""
    problem = resident_id_problem(with_check_digit(f"110105{birth}002"))
    assert problem and "birth date" in problem


@pytest.mark.parametrize(
    "value",
    [
        VALID_X[:-1],  # 17 characters
        VALID_X + "1",  # 19 characters
        "11010519491231002x",  # lower-case x: the schema normalises first
        "1101051949123100X2",  # X not at the end
        "A10105194912310021",
        "110105-19491231-002X",
        "",
        "１１０１０５１９４９１２３１００２Ｘ",  # full-width digits
    ],
)
def test_badly_shaped_ids_are_refused(value: str) -> None:
    """Anything but 17 digits and a digit or X is refused for its shape."""
    problem = resident_id_problem(value)
    assert problem and "18 characters" in problem


def test_normalise_strips_and_uppercases() -> None:
    """Input is trimmed and a lower-case x becomes X before it is checked."""
    assert normalise_id_number("  11010519491231002x ") == VALID_X


# -- unified social credit codes -----------------------------------------------------------------


def test_valid_credit_code_passes() -> None:
    """A real-shaped code with the right MOD 31 check character has no problem."""
    assert uscc_problem(VALID_USCC) is None
    assert uscc_check_char(VALID_USCC[:17]) == VALID_USCC[17]


def test_credit_code_with_wrong_check_character_is_refused() -> None:
    """Changing the last character of a valid code makes it invalid."""
    for last in "0123456789ABCDEFGHJKLMNPQRTUWXY":
        if last != VALID_USCC[-1]:
            problem = uscc_problem(VALID_USCC[:-1] + last)
            assert problem and "check character" in problem


@pytest.mark.parametrize(
    "value",
    [
        VALID_USCC[:-1],
        VALID_USCC + "1",
        "91350100I000100Y43",
        "91350100O000100Y43",
        "91350100S000100Y43",
        "91350100V000100Y43",
        "91350100Z000100Y43",
        "91350100m000100y43",
    ],
)
def test_badly_shaped_credit_codes_are_refused(value: str) -> None:
    """Wrong length, the letters I, O, S, V, Z, or lower case are refused for their shape."""
    problem = uscc_problem(value)
    assert problem and "18 letters and digits" in problem


# -- masking functions ---------------------------------------------------------------------------


def test_mask_keeps_region_and_last_four() -> None:
    """An 18-character number shows its first six and last four characters only."""
    assert mask_id_number("110105194912310021") == "110105********0021"
    assert mask_id_number(VALID_X) == "110105********002X"
    assert mask_id_number(VALID_USCC) == "913501********0Y43"


def test_mask_of_nothing_and_of_short_values() -> None:
    """None and '' stay as they are; other lengths keep at most two characters at each end."""
    assert mask_id_number(None) is None
    assert mask_id_number("") == ""
    assert mask_id_number("12345678") == "12****78"
    short = mask_id_number("123")
    assert short is not None and "1" not in short and "3" not in short


def test_mask_in_text_masks_every_id() -> None:
    """Every ID number inside free text is masked, also next to Chinese text and lower-case x."""
    first, second = valid_id(), VALID_X.lower()
    text = f"申请人身份证{first}，被申请人{second}。"
    out = mask_in_text(text)
    assert first not in out and second not in out
    assert masked(first) in out and masked(second) in out


def test_mask_in_text_leaves_other_numbers_alone() -> None:
    """Phone numbers, longer digit runs and already masked numbers are not touched."""
    text = f"电话13800000001，账号{VALID_X[:-1]}12，已遮挡{masked(VALID_X)}"
    assert mask_in_text(text) == text


# -- masking in API responses and pages ----------------------------------------------------------


@dataclass
class Intake:
    case: dict[str, Any]
    applicant_id: str
    respondent_id: str
    agent_id: str
    mediator_headers: dict[str, str]
    applicant_headers: dict[str, str]
    created: httpx.Response


@pytest.fixture
async def intake(client: httpx.AsyncClient, factory: Factory) -> Intake:
    """A case taken in through the API with three known resident ID numbers."""
    committee = await factory.committee()
    mediator = await factory.user(Role.mediator, committee)
    headers = await factory.login(client, mediator)
    client.cookies.clear()
    applicant_id = valid_id("19491231", "110105")
    respondent_id = valid_id("19750505", "440306")
    agent_id = valid_id("19850615", "140403")
    body = {
        "dispute_type": "debt",
        "title": unique("借款纠纷"),
        "parties": [
            {
                "role": "applicant",
                "name": unique("张"),
                "id_number": applicant_id.lower(),
                "agent": {"name": "赵律师", "id_number": agent_id},
            },
            {"role": "respondent", "name": unique("李"), "id_number": respondent_id},
        ],
    }
    created = await client.post("/api/cases", json=body, headers=headers)
    assert created.status_code == 201, created.text
    case = created.json()
    applicant = case["parties"][0]["id"]
    async with factory.uow() as s:
        case_row = await s.get(Case, case["id"])
        party_row = await s.get(Party, applicant)
    assert case_row is not None and party_row is not None
    assert party_row.id_number == applicant_id  # stored whole: the agreement must carry it
    token = await factory.invite(mediator, case_row, party_row)
    return Intake(
        case=case,
        applicant_id=applicant_id,
        respondent_id=respondent_id,
        agent_id=agent_id,
        mediator_headers=headers,
        applicant_headers=await factory.party_headers(client, token),
        created=created,
    )


def assert_no_full_ids(text: str, intake: Intake) -> None:
    for full in (intake.applicant_id, intake.respondent_id, intake.agent_id):
        assert full not in text
        assert full.lower() not in text
        assert full[6:] not in text  # nor the birth date with the rest


async def test_intake_response_masks_ids(intake: Intake) -> None:
    """The 201 answer to POST /api/cases shows each ID number masked, never whole."""
    assert_no_full_ids(intake.created.text, intake)
    parties = intake.created.json()["parties"]
    assert parties[0]["id_number"] == masked(intake.applicant_id)
    assert parties[1]["id_number"] == masked(intake.respondent_id)


async def test_case_json_masks_ids(client: httpx.AsyncClient, intake: Intake) -> None:
    """GET /api/cases/{id} shows masked IDs only: all to the mediator, its own to a party."""
    r = await client.get(f"/api/cases/{intake.case['id']}", headers=intake.mediator_headers)
    assert r.status_code == 200
    assert_no_full_ids(r.text, intake)
    assert masked(intake.applicant_id) in r.text
    assert masked(intake.respondent_id) in r.text
    r = await client.get(f"/api/cases/{intake.case['id']}", headers=intake.applicant_headers)
    assert r.status_code == 200
    assert_no_full_ids(r.text, intake)
    assert masked(intake.applicant_id) in r.text


async def test_case_list_masks_ids(client: httpx.AsyncClient, intake: Intake) -> None:
    """GET /api/cases, for the mediator and for the party, shows masked IDs only."""
    for headers in (intake.mediator_headers, intake.applicant_headers):
        r = await client.get("/api/cases", headers=headers)
        assert r.status_code == 200
        assert_no_full_ids(r.text, intake)
        assert masked(intake.applicant_id) in r.text


async def test_searching_by_an_id_number_reveals_nothing(
    client: httpx.AsyncClient, intake: Intake
) -> None:
    """A full ID number as the search text finds nothing and is not echoed back."""
    r = await client.get(
        "/api/cases", params={"q": intake.applicant_id}, headers=intake.mediator_headers
    )
    assert r.status_code == 200
    assert r.json()["total"] == 0


async def test_audit_log_masks_ids(client: httpx.AsyncClient, intake: Intake) -> None:
    """The case's audit events carry masked IDs only."""
    r = await client.get(f"/api/cases/{intake.case['id']}/audit", headers=intake.mediator_headers)
    assert r.status_code == 200
    assert_no_full_ids(r.text, intake)
    created = r.json()[0]
    assert created["action"] == "case.created"
    assert [p["id_number"] for p in created["data"]["parties"]] == [
        masked(intake.applicant_id),
        masked(intake.respondent_id),
    ]


async def test_me_masks_the_party_id(client: httpx.AsyncClient, intake: Intake) -> None:
    """GET /api/me for a party shows its own ID masked."""
    r = await client.get("/api/me", headers=intake.applicant_headers)
    assert r.status_code == 200
    assert_no_full_ids(r.text, intake)
    assert r.json()["party"]["id_number"] == masked(intake.applicant_id)


async def test_staff_pages_mask_ids(client: httpx.AsyncClient, intake: Intake) -> None:
    """The case page and the case list page show masked IDs only."""
    page = await client.get(f"/cases/{intake.case['id']}", headers=intake.mediator_headers)
    assert page.status_code == 200
    assert_no_full_ids(page.text, intake)
    assert masked(intake.applicant_id) in page.text
    assert masked(intake.respondent_id) in page.text
    listing = await client.get("/cases", headers=intake.mediator_headers)
    assert listing.status_code == 200
    assert intake.case["number"] in listing.text
    assert_no_full_ids(listing.text, intake)


async def test_party_page_masks_ids(client: httpx.AsyncClient, intake: Intake) -> None:
    """The party's own case page shows its ID masked and nobody's whole."""
    r = await client.get("/my-case", headers=intake.applicant_headers)
    assert r.status_code == 200
    assert intake.case["number"] in r.text
    assert_no_full_ids(r.text, intake)
    assert masked(intake.applicant_id) in r.text


async def test_refusals_do_not_echo_id_numbers(client: httpx.AsyncClient, intake: Intake) -> None:
    """A 422 for a bad or over-long ID number names the field without repeating the number."""
    wrong = intake.respondent_id[:17] + ("1" if intake.respondent_id[17] != "1" else "2")
    too_long = intake.respondent_id + "9"
    for bad in (wrong, too_long):
        body = {
            "dispute_type": "debt",
            "title": "t",
            "parties": [
                {"role": "applicant", "name": "a", "id_number": bad},
                {"role": "respondent", "name": "b"},
            ],
        }
        r = await client.post("/api/cases", json=body, headers=intake.mediator_headers)
        assert r.status_code == 422
        assert bad not in r.text
        assert bad[:17] not in r.text


# -- masking in logs -----------------------------------------------------------------------------


@pytest.fixture(params=[True, False], ids=["json", "text"])
def log_output(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """The production log set-up (logs.configure), writing into a buffer instead of stderr."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    names = ("alembic", "uvicorn", "uvicorn.error", "uvicorn.access")
    touched = [logging.getLogger(name) for name in names]
    saved_others = [(lg.level, lg.handlers[:], lg.propagate) for lg in touched]
    logs.configure("INFO", json_lines=request.param)
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for lg, (level, handlers, propagate) in zip(touched, saved_others, strict=True):
            lg.setLevel(level)
            lg.handlers[:] = handlers
            lg.propagate = propagate


def test_id_in_the_message_is_masked(log_output: io.StringIO) -> None:
    """An ID typed straight into a log message is masked in the written line."""
    logging.getLogger("mediation.test").warning(f"party {VALID_X} called")
    out = log_output.getvalue()
    assert VALID_X not in out
    assert masked(VALID_X) in out


def test_id_in_arguments_and_extra_fields_is_masked(log_output: io.StringIO) -> None:
    """IDs passed as %-arguments or as extra fields are masked too."""
    first, second = valid_id(), valid_id("19750505")
    logging.getLogger("mediation.test").info(
        "looked up %s", first, extra={"username": second, "note": f"备注{second}"}
    )
    out = log_output.getvalue()
    assert first not in out and second not in out
    assert masked(first) in out
    if "{" in out:  # the JSON lines carry the extra fields
        line = json.loads(out.strip().splitlines()[-1])
        assert line["username"] == masked(second)
        assert line["note"] == f"备注{masked(second)}"


async def test_failed_sign_in_with_an_id_as_username_is_logged_masked(
    app: Any, log_output: io.StringIO
) -> None:
    """A person typing their ID number as the username leaves only the masked form in the logs."""
    id_number = valid_id()
    # An address of its own, so this failure counts against no other test's address.
    transport = httpx.ASGITransport(app=app, client=("10.251.0." + id_number[-2:-1], 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        r = await c.post("/api/auth/login", json={"username": id_number, "password": "x" * 12})
    assert r.status_code == 401
    out = log_output.getvalue()
    assert "sign-in refused" in out
    assert id_number not in out
    if out.startswith("{"):  # JSON lines carry the username field; plain text lines do not
        assert masked(id_number) in out


async def test_case_intake_logs_no_full_id(
    client: httpx.AsyncClient, factory: Factory, log_output: io.StringIO
) -> None:
    """Taking in and showing a case writes no whole ID number to the logs."""
    committee = await factory.committee()
    mediator = await factory.user(Role.mediator, committee)
    headers = await factory.login(client, mediator)
    id_number = valid_id()
    body = {
        "dispute_type": "family",
        "title": unique("赡养纠纷"),
        "parties": [
            {"role": "applicant", "name": "甲", "id_number": id_number},
            {"role": "respondent", "name": "乙", "id_number": VALID_X},
        ],
    }
    r = await client.post("/api/cases", json=body, headers=headers)
    assert r.status_code == 201
    await client.get(f"/api/cases/{r.json()['id']}", headers=headers)
    await client.get(f"/cases/{r.json()['id']}", headers=headers)
    out = log_output.getvalue()
    assert "POST /api/cases 201" in out
    assert id_number not in out and VALID_X not in out


def test_id_in_an_exception_traceback_is_masked(log_output: io.StringIO) -> None:
    """A logged exception whose text holds an ID number is written with the ID masked."""
    try:
        raise RuntimeError(f"INSERT INTO party failed [parameters: ('{VALID_X}',)]")
    except RuntimeError:
        logging.getLogger("mediation.test").exception("request failed")
    out = log_output.getvalue()
    assert "request failed" in out
    assert VALID_X not in out


@pytest.mark.parametrize(
    ("message", "args"),
    [
        ("party %(id)s", ({"id": VALID_X},)),
        ("party %s", ({"name": "张三", "id_number": VALID_X},)),
    ],
    ids=["mapping", "dict-argument"],
)
def test_id_in_non_string_arguments_is_masked(
    log_output: io.StringIO, message: str, args: tuple[Any, ...]
) -> None:
    """IDs inside a mapping or a structured %s argument are masked in the written line."""
    logging.getLogger("mediation.test").warning(message, *args)
    out = log_output.getvalue()
    assert "party" in out
    assert VALID_X not in out
