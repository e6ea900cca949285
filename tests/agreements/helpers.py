"""Shared steps of the agreement tests: a case in mediation with signed-in parties, an
agreement ready to sign, and real PNG signatures."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any

import httpx
from PIL import Image, ImageDraw

from tests.conftest import Factory, Made

FACTS = "被申请人于2026年3月1日向申请人借款人民币30000元，约定于2026年9月1日前归还，到期未还。"


def png(width: int = 300, height: int = 120, *, stroke: bool = True) -> str:
    """A signature as the pad sends it: a PNG with a drawn line, base64."""
    image = Image.new("RGBA", (width, height), (255, 255, 255, 0))
    if stroke:
        ImageDraw.Draw(image).line(
            [(10, height - 20), (width // 2, 15), (width - 10, height - 30)], fill="black", width=4
        )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@dataclass
class Signing:
    """A case in mediation, its agreement, and everyone's bearer headers."""

    world: Made
    mediator: dict[str, str]
    applicant: dict[str, str]
    respondent: dict[str, str]
    agreement: dict[str, Any]

    @property
    def id(self) -> int:
        return int(self.agreement["id"])


async def in_mediation(client: httpx.AsyncClient, factory: Factory) -> tuple[Made, dict[str, str]]:
    world = await factory.world()
    mediator = await factory.login(client, world.mediator)
    r = await client.post(
        f"/api/cases/{world.case.id}/status", json={"status": "mediating"}, headers=mediator
    )
    assert r.status_code == 200, r.text
    return world, mediator


async def drafted(client: httpx.AsyncClient, factory: Factory) -> Signing:
    """A debt agreement from the template, its blanks filled: no errors in its check."""
    world, mediator = await in_mediation(client, factory)
    r = await client.post(
        f"/api/cases/{world.case.id}/agreement", json={"template": "debt"}, headers=mediator
    )
    assert r.status_code == 201, r.text
    agreement = r.json()
    content = agreement["version"]["content"]
    content["facts"] = FACTS
    r = await client.put(
        f"/api/agreements/{agreement['id']}",
        json={"base_version": 1, "content": content},
        headers=mediator,
    )
    assert r.status_code == 200, r.text
    assert [f for f in r.json()["version"]["findings"] if f["level"] == "error"] == []
    applicant = await factory.party_headers(
        client, await factory.invite(world.mediator, world.case, world.applicant)
    )
    respondent = await factory.party_headers(
        client, await factory.invite(world.mediator, world.case, world.respondent)
    )
    client.cookies.clear()  # bearer headers only: each request is one caller
    return Signing(world, mediator, applicant, respondent, r.json())


async def out_for_signing(client: httpx.AsyncClient, factory: Factory) -> Signing:
    signing = await drafted(client, factory)
    r = await client.post(
        f"/api/agreements/{signing.id}/send-for-signing", headers=signing.mediator
    )
    assert r.status_code == 200, r.text
    signing.agreement = r.json()
    return signing


def signature(agreement: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    version = agreement["version"]
    body = {
        "version": agreement["signing_version"],
        "content_sha256": version["content_sha256"],
        "method": "drawn",
        "image_png": png(),
    }
    return {**body, **overrides}


async def sign(
    client: httpx.AsyncClient, signing: Signing, headers: dict[str, str], **overrides: Any
) -> httpx.Response:
    return await client.post(
        f"/api/agreements/{signing.id}/signatures",
        json=signature(signing.agreement, **overrides),
        headers=headers,
    )
