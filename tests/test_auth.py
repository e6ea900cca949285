"""Staff sign-in and sign-out, the failed-attempt limit, sessions, and GET /api/me.

Failed sign-ins are counted per username and per client address, so every test that fails a
sign-in does it from a client with an address of its own: the shared ``client`` (127.0.0.1)
must never come near the per-address limit.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.cases import NewParty
from service.models import Organisation, PartyKind, PartyRole, Role, User
from service.settings import Settings
from tests.conftest import PASSWORD, Factory, unique, valid_id

WRONG = "not the password at all"
_hosts = itertools.count(1)
_net = uuid.uuid4().int % 200 + 20


@asynccontextmanager
async def client_from(app: Any, host: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests come from ``host`` (by default an address no other test uses)."""
    n = next(_hosts)
    host = host or f"10.{_net}.{n // 250}.{n % 250 + 1}"
    transport = httpx.ASGITransport(app=app, client=(host, 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def remote(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with client_from(app) as c:
        yield c


async def staff(factory: Factory, role: Role = Role.mediator) -> tuple[Organisation, User]:
    org = await factory.committee()
    return org, await factory.user(role, org, username=unique("staff."))


async def login(c: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await c.post("/api/auth/login", json={"username": username, "password": password})


def session_cookie(response: httpx.Response) -> str:
    cookies = [
        h for h in response.headers.get_list("set-cookie") if h.startswith("mediation_session=")
    ]
    assert len(cookies) == 1, response.headers.get_list("set-cookie")
    return cookies[0]


# -- signing in ----------------------------------------------------------------------------------


async def test_login_sets_a_safe_cookie_and_returns_a_token(
    remote: httpx.AsyncClient, factory: Factory
) -> None:
    """A right password gets 200, an HttpOnly SameSite=Lax cookie on / and a bearer token."""
    org, user = await staff(factory)
    r = await login(remote, user.username, PASSWORD)
    assert r.status_code == 200, r.text

    cookie = session_cookie(r)
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes
    assert "secure" not in attributes  # the test server is plain http
    body = r.json()
    assert cookie.split(";")[0] == f"mediation_session={body['token']}"
    assert body["token"] and body["csrf_token"]
    assert body["user"] == {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "role": "mediator",
        "org_id": org.id,
    }


async def test_login_response_holds_no_password_hash(
    remote: httpx.AsyncClient, factory: Factory
) -> None:
    """Neither the hash nor any password field appears in the sign-in answer."""
    _, user = await staff(factory)
    r = await login(remote, user.username, PASSWORD)
    assert r.status_code == 200
    assert "password" not in r.text
    assert user.password_hash not in r.text
    assert PASSWORD not in r.text


async def test_stored_password_hash_is_argon2id(factory: Factory) -> None:
    """Passwords are kept as Argon2id hashes, never as given."""
    _, user = await staff(factory)
    async with factory.uow() as s:
        stored = await s.get(User, user.id)
    assert stored is not None
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash


async def test_bearer_token_and_cookie_both_authenticate(
    app: Any, remote: httpx.AsyncClient, factory: Factory
) -> None:
    """The returned token works as a bearer token, and the cookie alone works for reads."""
    _, user = await staff(factory)
    token = (await login(remote, user.username, PASSWORD)).json()["token"]
    by_cookie = await remote.get("/api/me")
    assert by_cookie.status_code == 200
    assert by_cookie.json()["user"]["id"] == user.id
    async with client_from(app) as fresh:
        assert (await fresh.get("/api/me")).status_code == 401
        r = await fresh.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        assert r.json()["user"]["id"] == user.id


async def test_wrong_password_and_unknown_user_get_the_same_401(
    remote: httpx.AsyncClient, factory: Factory
) -> None:
    """A wrong password and an unknown username both get 401 with one and the same message."""
    _, user = await staff(factory)
    wrong = await login(remote, user.username, WRONG)
    unknown = await login(remote, unique("nobody."), WRONG)
    assert wrong.status_code == unknown.status_code == 401
    assert isinstance(wrong.json()["detail"], str) and wrong.json()["detail"]
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert "set-cookie" not in wrong.headers
    assert "token" not in wrong.json()


async def test_inactive_user_cannot_sign_in(remote: httpx.AsyncClient, factory: Factory) -> None:
    """A deactivated account gets the ordinary 401 even with the right password."""
    _, user = await staff(factory)
    await set_active(factory, user, False)
    r = await login(remote, user.username, PASSWORD)
    assert r.status_code == 401
    unknown = await login(remote, unique("nobody."), WRONG)
    assert r.json()["detail"] == unknown.json()["detail"]


async def test_deactivation_ends_existing_sessions(
    remote: httpx.AsyncClient, factory: Factory
) -> None:
    """A session opened before the account was deactivated stops working."""
    _, user = await staff(factory)
    token = (await login(remote, user.username, PASSWORD)).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (await remote.get("/api/me", headers=headers)).status_code == 200
    await set_active(factory, user, False)
    assert (await remote.get("/api/me", headers=headers)).status_code == 401


async def set_active(factory: Factory, user: User, active: bool) -> None:
    async with factory.uow() as s:
        row = await s.get(User, user.id)
        assert row is not None
        row.active = active
        s.add(row)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "someone"}, "password"),
        ({"password": WRONG}, "username"),
        ({"username": "u" * 65, "password": WRONG}, "username"),
        ({"username": "someone", "password": 12345}, "password"),
        ({"username": "someone", "password": WRONG, "remember": True}, "remember"),
    ],
)
async def test_malformed_login_is_422(
    remote: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    """A sign-in body with a missing, over-long, mistyped or unknown field is 422 naming it."""
    r = await remote.post("/api/auth/login", json=body)
    assert r.status_code == 422, r.text
    assert ["body", field] in [e["loc"] for e in r.json()["detail"]]


async def test_login_body_that_is_not_json_is_422(remote: httpx.AsyncClient) -> None:
    """A sign-in body that does not parse gets 422."""
    r = await remote.post(
        "/api/auth/login", content=b"{bad", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422


# -- the failed-attempt limit --------------------------------------------------------------------


async def test_sixth_attempt_after_five_failures_is_429(app: Any, factory: Factory) -> None:
    """Five wrong passwords get 401; the sixth attempt gets 429 with a Retry-After header."""
    _, user = await staff(factory)
    async with client_from(app) as c:
        for attempt in range(5):
            r = await login(c, user.username, WRONG)
            assert r.status_code == 401, (attempt, r.text)
        r = await login(c, user.username, WRONG)
        assert r.status_code == 429, r.text
        assert int(r.headers["Retry-After"]) > 0
        assert r.json()["detail"]


async def test_right_password_while_locked_is_still_429(app: Any, factory: Factory) -> None:
    """Once locked, even the right password (from anywhere) is refused with 429 and no session."""
    _, user = await staff(factory)
    async with client_from(app) as c:
        for _ in range(5):
            assert (await login(c, user.username, WRONG)).status_code == 401
        r = await login(c, user.username, PASSWORD)
        assert r.status_code == 429
        assert "Retry-After" in r.headers
        assert "set-cookie" not in r.headers
    async with client_from(app) as elsewhere:
        r = await login(elsewhere, user.username, PASSWORD)
        assert r.status_code == 429
        assert "token" not in r.json()


async def test_lock_is_per_username(app: Any, factory: Factory) -> None:
    """Another user signing in from the same address is not held back by someone else's lock."""
    _, locked = await staff(factory)
    _, other = await staff(factory)
    async with client_from(app) as c:
        for _ in range(5):
            await login(c, locked.username, WRONG)
        assert (await login(c, locked.username, PASSWORD)).status_code == 429
        assert (await login(c, other.username, PASSWORD)).status_code == 200


async def test_unknown_username_is_limited_like_a_real_one(app: Any) -> None:
    """Guessing at a username that does not exist also ends in 429, so the limit reveals nothing."""
    ghost = unique("ghost.")
    async with client_from(app) as c:
        for _ in range(5):
            assert (await login(c, ghost, WRONG)).status_code == 401
        r = await login(c, ghost, WRONG)
        assert r.status_code == 429
        assert "Retry-After" in r.headers


async def test_parallel_guesses_are_limited_too(app: Any, factory: Factory) -> None:
    """Twelve wrong passwords sent at once (from different addresses) get at most five 401s."""
    _, user = await staff(factory)
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(client_from(app)) for _ in range(12)]
        responses = await asyncio.gather(*(login(c, user.username, WRONG) for c in clients))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(401) <= 5, codes
    assert set(codes) <= {401, 429}


async def test_failures_below_the_limit_do_not_lock(app: Any, factory: Factory) -> None:
    """Four wrong passwords still let the right one through."""
    _, user = await staff(factory)
    async with client_from(app) as c:
        for _ in range(4):
            assert (await login(c, user.username, WRONG)).status_code == 401
        assert (await login(c, user.username, PASSWORD)).status_code == 200


async def test_one_address_trying_many_usernames_is_limited(app: Any, factory: Factory) -> None:
    """Thirty failures from one address, each on a different username, lock that address."""
    _, user = await staff(factory)
    async with client_from(app) as c:
        for _ in range(30):
            assert (await login(c, unique("spray."), WRONG)).status_code == 401
        r = await login(c, user.username, PASSWORD)
        assert r.status_code == 429
        assert "Retry-After" in r.headers
    async with client_from(app) as elsewhere:
        assert (await login(elsewhere, user.username, PASSWORD)).status_code == 200


# -- signing out and CSRF --------------------------------------------------------------------------


async def test_logout_ends_the_session(
    app: Any, remote: httpx.AsyncClient, factory: Factory
) -> None:
    """After logout the bearer token and the cookie get 401, and the cookie is cleared."""
    _, user = await staff(factory)
    token = (await login(remote, user.username, PASSWORD)).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await remote.get("/api/me", headers=bearer)).status_code == 200

    r = await remote.post("/api/auth/logout", headers=bearer)
    assert r.status_code == 204
    cleared = session_cookie(r).lower()
    assert 'mediation_session=""' in cleared or "max-age=0" in cleared

    assert (await remote.get("/api/me", headers=bearer)).status_code == 401
    as_cookie = {"Cookie": f"mediation_session={token}"}
    async with client_from(app) as fresh:
        assert (await fresh.get("/api/me", headers=as_cookie)).status_code == 401
    assert (await remote.post("/api/auth/logout", headers=bearer)).status_code == 401


async def test_logout_ends_only_that_session(app: Any, factory: Factory) -> None:
    """Signing out on one device leaves the same user's other session working."""
    _, user = await staff(factory)
    async with client_from(app) as phone, client_from(app) as desk:
        first = (await login(phone, user.username, PASSWORD)).json()["token"]
        second = (await login(desk, user.username, PASSWORD)).json()["token"]
        r = await phone.post("/api/auth/logout", headers={"Authorization": f"Bearer {first}"})
        assert r.status_code == 204
        r = await desk.get("/api/me", headers={"Authorization": f"Bearer {second}"})
        assert r.status_code == 200


async def test_cookie_requests_that_change_state_need_the_csrf_token(
    remote: httpx.AsyncClient, factory: Factory
) -> None:
    """A cookie-authenticated POST without X-CSRF-Token is 403; with the token it goes through."""
    _, user = await staff(factory)
    csrf = (await login(remote, user.username, PASSWORD)).json()["csrf_token"]
    assert (await remote.post("/api/auth/logout")).status_code == 403
    forged = {"X-CSRF-Token": "0" * 64}
    assert (await remote.post("/api/auth/logout", headers=forged)).status_code == 403
    assert (await remote.get("/api/me")).status_code == 200  # still signed in
    r = await remote.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    assert (await remote.get("/api/me")).status_code == 401


# -- GET /api/me ---------------------------------------------------------------------------------


async def test_me_for_staff(client: httpx.AsyncClient, factory: Factory) -> None:
    """A signed-in mediator sees their account, their committee and a CSRF token; no party."""
    org, user = await staff(factory)
    headers = await factory.login(client, user)
    r = await client.get("/api/me", headers=headers)
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["kind"] == "staff"
    assert me["user"]["id"] == user.id and me["user"]["role"] == "mediator"
    assert me["organisation"]["id"] == org.id and me["organisation"]["kind"] == "committee"
    assert me["csrf_token"]
    assert me["party"] is None and me["case_id"] is None
    assert "password" not in r.text


async def test_me_for_a_judge_names_the_court(client: httpx.AsyncClient, factory: Factory) -> None:
    """A judge's /api/me names their court."""
    court = await factory.court()
    judge = await factory.user(Role.judge, court)
    r = await client.get("/api/me", headers=await factory.login(client, judge))
    assert r.status_code == 200
    assert r.json()["user"]["role"] == "judge"
    assert (r.json()["organisation"]["id"], r.json()["organisation"]["kind"]) == (court.id, "court")


async def test_me_for_a_party(client: httpx.AsyncClient, factory: Factory) -> None:
    """A party signed in by its join link sees itself and its case, with its ID number masked."""
    _, mediator = await staff(factory)
    id_number = valid_id("19491231", "110105")
    case, (applicant, _) = await factory.case(
        mediator,
        parties=[
            _party("applicant", id_number),
            _party("respondent", valid_id()),
        ],
    )
    token = await factory.invite(mediator, case, applicant)
    r = await client.get("/api/me", headers=await factory.party_headers(client, token))
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["kind"] == "party"
    assert me["case_id"] == case.id
    assert me["party"]["id"] == applicant.id and me["party"]["role"] == "applicant"
    assert me["party"]["id_number"] == id_number[:6] + "********" + id_number[-4:]
    assert id_number not in r.text
    assert me["user"] is None and me["organisation"] is None


def _party(role: str, id_number: str) -> NewParty:
    return NewParty(
        role=PartyRole(role), kind=PartyKind.person, name=unique("当事人"), id_number=id_number
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-real-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Cookie": "mediation_session=forged"},
    ],
)
async def test_me_without_a_valid_session_is_401(
    remote: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """No credentials, a made-up token or another scheme: 401 with a message."""
    r = await remote.get("/api/me", headers=headers)
    assert r.status_code == 401
    assert r.json()["detail"]


# -- the signing key -----------------------------------------------------------------------------


def test_the_signing_key_is_made_once_and_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Made in the data dir on first use (owner-only), then kept in memory: every
    authenticated request asks for it, and none of them reads the file again."""
    monkeypatch.delenv("MEDIATION_SECRET_KEY", raising=False)
    settings = Settings(data_dir=tmp_path / "data")
    key_file = tmp_path / "data" / "secret_key"
    assert not key_file.exists()
    first = settings.secret()
    assert key_file.read_text().strip().encode() == first
    assert key_file.stat().st_mode & 0o777 == 0o600
    key_file.unlink()  # were it read again, this would fail or make another key
    assert settings.secret() == first
    assert not key_file.exists()
    # Another process, another Settings: reads the key the first one made.
    key_file.write_text(first.decode())
    assert Settings(data_dir=tmp_path / "data").secret() == first


def test_the_signing_key_is_one_key_for_concurrent_first_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threads asking at once for a key not made yet all get the same one, read once."""
    monkeypatch.delenv("MEDIATION_SECRET_KEY", raising=False)
    settings = Settings(data_dir=tmp_path / "data")
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = set(pool.map(lambda _: settings.secret(), range(32)))
    assert len(keys) == 1
    assert (tmp_path / "data" / "secret_key").read_text().strip().encode() in keys


def test_a_signing_key_from_the_environment_is_used_as_given(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key="from-the-environment")
    assert settings.secret() == b"from-the-environment"
    assert not (tmp_path / "data" / "secret_key").exists()
