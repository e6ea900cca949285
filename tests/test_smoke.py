import re
from pathlib import Path

from service.pages import module_graph
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


async def test_openapi_describes_every_api_route(client, app):
    """/openapi.json is generated from the code and names every JSON endpoint."""
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    from fastapi.routing import APIRoute

    for route in app.routes:
        if isinstance(route, APIRoute) and route.path.startswith("/api"):
            assert route.path in paths, route.path
    case_post = paths["/api/cases"]["post"]
    assert "CaseIn" in str(case_post["requestBody"]) and "CaseOut" in str(case_post["responses"])


async def test_request_id_is_echoed(client):
    """Every response carries the request id that its log lines carry."""
    r = await client.get("/healthz", headers={"X-Request-ID": "abc123"})
    assert r.headers["X-Request-ID"] == "abc123"


STATIC_JS = Path(__file__).resolve().parent.parent / "static" / "js"
# (not `import("...")`: a dynamic import is fetched when it runs, and preloaded by hand)
STATIC_IMPORT = re.compile(
    r"""^\s*(?:import|export)\b(?!\s*\()[^;]*?["'](\.[^"']+)["']""", re.M | re.S
)


def test_the_module_graph_holds_every_static_import():
    for path in STATIC_JS.rglob("*.js"):
        graph = module_graph(path.relative_to(STATIC_JS).as_posix())
        for spec in STATIC_IMPORT.findall(path.read_text(encoding="utf-8")):
            target = (path.parent / spec).resolve()
            assert target.is_file(), f"{path.name} imports {spec}, which does not exist"
            assert f"/static/js/{target.relative_to(STATIC_JS).as_posix()}" in graph, (path, spec)


async def test_pages_announce_their_whole_module_graph(client, factory: Factory, world: Made):
    """Each page's <head> preloads its ES module and every module that one imports, so the
    browser fetches them in one round instead of one round per level of imports."""
    headers = await factory.login(client, world.mediator)
    page = await client.get(f"/cases/{world.case.id}", headers=headers)
    assert page.status_code == 200
    head = page.text.split("</head>", 1)[0]
    for url in module_graph("case.js") + module_graph("common.js"):
        assert f'<link rel="modulepreload" href="{url}">' in head


def test_the_room_pages_early_camera_asks_for_what_capture_would():
    """room.html's head (room/early.js) starts the camera before the modules load; media.js's
    capture() takes that stream as its own first capture, so both must ask for the same
    picture."""
    media = (STATIC_JS / "room" / "media.js").read_text(encoding="utf-8")
    video = re.search(r"^const VIDEO = \{ (.*) \};$", media, re.M)
    assert video is not None
    early = (STATIC_JS / "room" / "early.js").read_text(encoding="utf-8")
    assert f'video: {{ {video.group(1)}, facingMode: "user" }}' in early
    template = STATIC_JS.parent.parent / "rooms" / "templates" / "room.html"
    assert '<script src="/static/js/room/early.js"></script>' in template.read_text()


def test_the_host_controls_need_no_module_beyond_room_js():
    """room.js imports room/host.js only on a host's page, which preloads that one module
    (room.html): everything it imports must already be in room.js's graph."""
    assert "/static/js/room/host.js" not in module_graph("room.js")  # not on a party's page
    extra = set(module_graph("room/host.js")) - set(module_graph("room.js"))
    assert extra == {"/static/js/room/host.js"}, extra
