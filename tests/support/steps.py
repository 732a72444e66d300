"""Shared steps of the conformance tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ocpp.v16 import call

from kilowatt.tenants import service as tenants
from kilowatt.tokens import service as tokens

from support.ocpp_client import LibChargePoint
from support.server import RunningServer


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def add_token(server: RunningServer, id_tag: str, **kw: Any) -> None:
    async with server.node.sessions() as db:
        tenant = await tenants.default_tenant(db)
        await tokens.create(db, tenant.id, id_tag, **kw)
        await db.commit()


async def boot(cp: LibChargePoint, connectors: int = 2) -> Any:
    """TC_001's opening: BootNotification, a StatusNotification per connector (0 included)."""
    response = await cp.call(
        call.BootNotification(charge_point_model="Model-X", charge_point_vendor="VendorY")
    )
    for connector_id in range(connectors + 1):
        await cp.call(
            call.StatusNotification(
                connector_id=connector_id, error_code="NoError", status="Available"
            )
        )
    return response


async def status(
    cp: LibChargePoint, connector_id: int, value: str, error_code: str = "NoError"
) -> None:
    await cp.call(
        call.StatusNotification(
            connector_id=connector_id, error_code=error_code, status=value, timestamp=now_iso()
        )
    )


async def command(
    server: RunningServer, cp_id: str, action: str, payload: dict[str, Any]
) -> dict[str, Any]:
    async with server.api() as api:
        response = await api.post(f"/api/v1/stations/{cp_id}/commands/{action}", json=payload)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def get_json(server: RunningServer, path: str) -> Any:
    async with server.api() as api:
        response = await api.get(path)
    assert response.status_code == 200, response.text
    return response.json()
