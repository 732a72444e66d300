"""OCPP 1.6 Authorize → the tokens service."""

from __future__ import annotations

from kilowatt.events import Event
from kilowatt.gateway.context import OcppContext
from kilowatt.ocpp.v16 import enums
from kilowatt.ocpp.v16 import messages as m
from kilowatt.tokens import service
from kilowatt.tokens.models import AuthorizeAnswer
from kilowatt.tokens.service import Authorization


def id_tag_info(authorization: Authorization) -> m.IdTagInfo:
    return m.IdTagInfo(
        status=enums.AuthorizationStatus(authorization.status),
        expiry_date=authorization.expiry_date,
        parent_id_tag=authorization.parent_id_tag,
    )


async def authorize(ctx: OcppContext, req: m.AuthorizeRequest) -> m.AuthorizeResponse:
    authorization = await service.authorize(ctx.db, ctx.tenant_id, req.id_tag, ctx.now)
    ctx.db.add(
        AuthorizeAnswer(
            station_id=ctx.station_id, id_tag=req.id_tag, status=authorization.status, at=ctx.now
        )
    )
    ctx.events.append(
        Event(
            "token.authorized" if authorization.status == "Accepted" else "token.refused",
            {"idTag": req.id_tag, "status": authorization.status},
            tenant_id=ctx.tenant_id,
            station=ctx.charge_point_id,
        )
    )
    return m.AuthorizeResponse(id_tag_info=id_tag_info(authorization))
