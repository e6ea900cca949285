"""The API against its own contract: schemathesis over the app's /openapi.json, over ASGI.

For each kind of caller (anonymous, a party, a mediator, an admin) and each documented
operation, Hypothesis generates requests from the schema, valid and invalid, and every
answer must keep the contract: no 5xx, a status the operation documents, and a body and
content type that match what it documents for that status.

The budget is small so that the suite stays near its time (``FUZZ_MAX_EXAMPLES`` per
operation, mode and caller; raise it for a longer hunt, e.g. ``FUZZ_MAX_EXAMPLES=200``).
Generation is derandomised, so a run is repeatable; ``FUZZ_SEED`` explores other inputs.

The app under test is a second instance on the session's database: schemathesis runs it in
an event loop of its own (its lifespan there too), while the factories write the callers'
records through the session's app beforehand.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service import invitations
from service.app import create_app
from service.settings import Settings
from tests.conftest import Factory

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "6"))
SEED = os.environ.get("FUZZ_SEED")
ROLES = ["anonymous", "party", "mediator", "admin"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Invalid input must be refused (4xx), not coerced: "yes" for a boolean, 2.0 for an id.
NEGATIVE_CHECKS = [*CHECKS, negative_data_rejection]


@dataclass
class Caller:
    role: str
    headers: dict[str, str]
    # Path parameters naming records this caller's world holds, so that requests reach
    # past the 404 to the operation itself (about half of the examples use them).
    ids: dict[str, int] = field(default_factory=dict)


@pytest.fixture(scope="module")
def api(settings: Settings) -> Iterator[schemathesis.BaseSchema]:
    app = create_app(settings)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    asgi.shutdown_lifespans()


@pytest.fixture
async def caller(request: pytest.FixtureRequest, factory: Factory, client: Any) -> Caller:
    role: str = request.param
    world = await factory.world()
    ids = {"case_id": world.case.id or 0}
    if role == "anonymous":
        return Caller(role, {}, ids)
    mediator = await factory.login(client, world.mediator)
    room = await client.post(f"/api/cases/{world.case.id}/rooms", json={}, headers=mediator)
    assert room.status_code == 201, room.text
    ids["room_id"] = room.json()["id"]
    async with factory.uow() as s:
        invitation, token = await invitations.create_invitation(
            s,
            case=world.case,
            party=world.applicant,
            mediator=world.mediator,
            valid_for=timedelta(days=7),
        )
    ids["invitation_id"] = invitation.id or 0
    if role == "party":
        return Caller(role, await factory.party_headers(client, token), ids)
    if role == "mediator":
        return Caller(role, mediator, ids)
    return Caller(role, await factory.login(client, world.admin), ids)


def _strategy(operation: Any, mode: GenerationMode, caller: Caller) -> Any:
    generated = operation.as_strategy(generation_mode=mode)
    path = operation.path_parameters
    known = {p.name: caller.ids[p.name] for p in path if p.name in caller.ids}
    if not known or mode.is_negative:
        return generated
    return st.one_of(generated, operation.as_strategy(generation_mode=mode, path_parameters=known))


def _fuzz(operation: Any, mode: GenerationMode, caller: Caller) -> str | None:
    """Run one operation's examples; the failure report, or None when all kept the contract."""
    checks = NEGATIVE_CHECKS if mode.is_negative else CHECKS

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=SEED is None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the report has the request
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation, mode, caller))
    def run(case: Any) -> None:
        case.call_and_validate(headers=caller.headers, checks=checks)

    if SEED is not None:
        run = seed(int(SEED))(run)
    try:
        run()
    except FailureGroup as failure:
        return f"{operation.label} ({mode.value}):\n{failure}"
    except Unsatisfiable:
        if not mode.is_negative:
            raise
        # Nothing to get wrong: the operation takes no parameters and no body.
    return None


@pytest.mark.parametrize("caller", ROLES, indirect=True)
def test_api_keeps_its_contract(caller: Caller, api: schemathesis.BaseSchema) -> None:
    failures = []
    for result in api.get_all_operations():
        operation = result.ok()
        if caller.role != "anonymous" and operation.label == "POST /api/auth/logout":
            continue  # it would end this caller's session for every operation after it
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if (report := _fuzz(operation, mode, caller)) is not None:
                failures.append(report)
    assert not failures, "\n\n".join(failures)
