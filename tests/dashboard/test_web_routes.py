"""The web apps are served by Kilowatt itself, locked to its own origin."""

from __future__ import annotations

import re

from api.api_kit import World
from kilowatt.dashboard.web import STATIC


async def test_every_path_of_an_app_answers_its_page_with_a_strict_policy(world: World) -> None:
    http = world.anonymous()
    for path, app in (
        ("/dashboard/", "operator"),
        ("/dashboard/stations/CP-1", "operator"),
        ("/app/start?evse=DE*KWT*E1*1", "driver"),
        ("/app/sessions/7", "driver"),
    ):
        response = await http.get(path)
        assert response.status_code == 200, path
        assert response.text == (STATIC / app / "index.html").read_text()
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
    root = await http.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/dashboard/"


async def test_assets_are_served_and_missing_ones_are_404(world: World) -> None:
    http = world.anonymous()
    script = await http.get("/static/common/api.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert (await http.get("/static/common/nothing.js")).status_code == 404
    assert (await http.get("/static/../config.py")).status_code == 404


def test_no_asset_refers_to_another_origin() -> None:
    """Nothing the pages load comes from elsewhere: no absolute URL to another host in any asset
    (the SVG namespace is an identifier, and RFC 2606 example hosts in placeholders are never
    requested)."""
    allowed = {"http://www.w3.org/2000/svg"}
    example = re.compile(r"^(?:https?:)?//([a-z0-9-]+\.)*example\.(com|org|net)(/|$)")
    offenders = []
    for path in STATIC.rglob("*"):
        if path.suffix not in {".html", ".js", ".css", ".svg"}:
            continue
        for url in re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s'\"`)]*", path.read_text()):
            if url not in allowed and not example.match(url):
                offenders.append(f"{path.relative_to(STATIC)}: {url}")
    assert not offenders, offenders
