from tests.conftest import Factory, Made


async def test_health(client):
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok"}


async def test_mediator_sees_own_case(client, factory: Factory, world: Made):
    headers = await factory.login(client, world.mediator)
    r = await client.get(f"/api/cases/{world.case.id}", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["number"] == world.case.number
