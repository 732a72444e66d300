"""Mass assignment (issue 8 item 5): request bodies forbid unknown fields, so a caller cannot
slip price, energy, owner, tenant, role or status fields into a request and have them stored.
"""

from __future__ import annotations

import inspect
import typing
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy import func, select

from auth.accounts_kit import PASSWORD, accounts_server, admin_client, client, logged_in, make_user
from kilowatt.app import create_app
from kilowatt.auth.principal import Role
from kilowatt.config import Settings
from kilowatt.sessions.models import ChargingSession
from kilowatt.users.models import User

# The OCPP.Core-compatible API (kilowatt.sessions.seed_api) ignores unknown fields on purpose:
# its clients send the seed's whole request objects. It takes nothing a caller could abuse.
LENIENT = {"StartChargingSessionRequest", "EndChargingSessionRequest", "UnlockConnectorRequest"}


def _body_models() -> dict[str, type[BaseModel]]:
    """Every pydantic model a JSON request body of the app is validated with, nested ones too."""
    app = create_app(Settings(jwt_secret="x" * 40), migrate=False)
    found: dict[str, type[BaseModel]] = {}

    def walk(annotation: Any) -> None:
        if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
            if annotation.__name__ not in found:
                found[annotation.__name__] = annotation
                for field in annotation.model_fields.values():
                    walk(field.annotation)
            return
        for argument in typing.get_args(annotation):
            walk(argument)

    routes = [r for r in app.router.routes if isinstance(r, APIRoute)]
    for route in _api_routes(app):
        routes.append(route)
    for route in routes:
        for param in route.dependant.body_params:
            walk(param.field_info.annotation)
    return found


def _api_routes(app: Any) -> list[APIRoute]:
    # Routers included into the app keep their routes on the router objects.
    routes: list[APIRoute] = []
    for route in app.router.routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            routes += [r for r in original.routes if isinstance(r, APIRoute)]
    return routes


def _permissive(models: dict[str, type[BaseModel]]) -> set[str]:
    return {name for name, m in models.items() if m.model_config.get("extra") != "forbid"}


def test_every_request_body_forbids_unknown_fields() -> None:
    models = _body_models()
    assert {"Register", "UserUpdate", "StationCreate", "WebhookCreate"} <= set(models)
    assert _permissive(models) - LENIENT == set()


async def test_a_driver_cannot_register_with_a_role_tenant_or_status(
    database_url: str, tmp_path: Path
) -> None:
    async with accounts_server(database_url, tmp_path) as server, client(server) as http:
        base = {"email": "eve@example.com", "password": PASSWORD, "name": "Eve"}
        for extra in (
            {"role": "platform_admin"},
            {"tenant_id": 1},
            {"disabled_at": None},
            {"id": 1},
            {"password_hash": "$argon2id$v=19$m=65536,t=3,p=4$forged"},
        ):
            response = await http.post("/api/v1/auth/register", json={**base, **extra})
            assert response.status_code == 422, (extra, response.text)
            (error,) = response.json()["errors"]
            assert error["type"] == "extra_forbidden" and error["loc"][-1] in extra
        async with server.node.sessions() as db:
            assert await db.scalar(select(func.count()).select_from(User)) == 0
        # The same request without the extra field works, and makes a driver.
        registered = await http.post("/api/v1/auth/register", json=base)
        assert registered.status_code == 201 and registered.json()["user"]["role"] == "driver"


async def test_operators_cannot_move_users_or_stations_between_tenants(
    database_url: str, tmp_path: Path
) -> None:
    async with accounts_server(database_url, tmp_path) as server:
        admin_token = await logged_in(server, "admin@example.com", Role.ADMIN)
        victim = await make_user(server, "op@example.com", Role.OPERATOR)
        async with client(server, admin_token) as http, admin_client(server) as node:
            other = await node.post("/api/v1/tenants", json={"name": "Other", "slug": "other"})
            assert other.status_code == 201, other.text
            other_id = other.json()["id"]
            for extra in (
                {"tenant_id": other_id},
                {"email": "mine@example.com"},
                {"password": "reset-by-admin-1"},
                {"disabled_at": None},
            ):
                response = await http.patch(
                    f"/api/v1/users/{victim.id}", json={"name": "x", **extra}
                )
                assert response.status_code == 422, (extra, response.text)
            created = await http.post("/api/v1/stations", json={"charge_point_id": "CP-1"})
            assert created.status_code == 201, created.text
            for extra in ({"tenant_id": other_id}, {"status": "Available"}, {"id": 999}):
                patched = await http.patch("/api/v1/stations/CP-1", json=extra)
                assert patched.status_code == 422, (extra, patched.text)
                posted = await http.post(
                    "/api/v1/stations", json={"charge_point_id": "CP-2", **extra}
                )
                assert posted.status_code == 422, (extra, posted.text)
            key = await http.post(
                "/api/v1/api-keys",
                json={"name": "k", "permissions": [], "tenant_id": other_id, "prefix": "0" * 12},
            )
            assert key.status_code == 422
            # Nothing changed.
            user = await http.get(f"/api/v1/users/{victim.id}")
            assert user.json()["name"] == "op@example.com"
            assert user.json()["tenant_id"] == victim.tenant_id
            station = await http.get("/api/v1/stations/CP-1")
            assert station.status_code == 200
            assert (await http.get("/api/v1/stations/CP-2")).status_code == 404
            assert (await http.get("/api/v1/api-keys")).json() == []


async def test_a_driver_cannot_set_price_energy_owner_or_status_on_a_session(
    database_url: str, tmp_path: Path
) -> None:
    async with accounts_server(database_url, tmp_path) as server:
        token = await logged_in(server, "dr@example.com", Role.DRIVER)
        async with client(server, token) as http:
            for extra in (
                {"price": "0.00"},
                {"energy_wh": 0},
                {"user_id": 1},
                {"tenant_id": 1},
                {"status": "finished"},
            ):
                response = await http.post(
                    "/api/v1/sessions", json={"connector": "DE*KWT*E1*1", **extra}
                )
                assert response.status_code == 422, (extra, response.text)
            card = await http.post("/api/v1/me/tokens", json={"id_tag": "CARD1", "user_id": 1})
            assert card.status_code == 422, card.text
        async with server.node.sessions() as db:
            assert await db.scalar(select(func.count()).select_from(ChargingSession)) == 0
