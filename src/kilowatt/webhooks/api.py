"""Webhooks API: a tenant's subscriptions, their deliveries, and a test-fire
(``webhooks:read`` / ``webhooks:write``).

Scoped to the caller's tenant; another tenant's subscription or delivery is a 404. The signing
secret is answered on create and on rotation only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Query, Request, Response

from kilowatt.api.auth import (
    GUARDED,
    NOT_FOUND,
    NOT_FOUND_OR_CONFLICT,
    IdPath,
    TenantQuery,
    WebhooksRead,
    WebhooksWrite,
    target_tenant,
)
from kilowatt.api.pagination import Page, PageParams
from kilowatt.api.problems import Problem
from kilowatt.webhooks import service
from kilowatt.webhooks.dispatcher import WebhookDispatcher
from kilowatt.webhooks.schemas import (
    DeliveryOut,
    DeliveryState,
    WebhookCreate,
    WebhookOut,
    WebhookUpdate,
    WebhookWithSecret,
)
from kilowatt.webhooks.service import WebhookError

router = APIRouter(prefix="/api/v1", tags=["webhooks"], responses=GUARDED)


@contextmanager
def webhook_problems() -> Iterator[None]:
    """Answer a refused webhook operation as a problem document with its status."""
    try:
        yield
    except WebhookError as exc:
        raise Problem(exc.status, exc.title, exc.detail) from None


def _dispatcher(request: Request) -> WebhookDispatcher:
    dispatcher: WebhookDispatcher = request.app.state.kilowatt.webhooks
    return dispatcher


async def _delivery_out(request: Request, delivery_id: int) -> DeliveryOut:
    async with request.app.state.kilowatt.sessions() as db:
        with webhook_problems():
            view = await service.delivery_view(db, delivery_id)
        return DeliveryOut.of(view.delivery, view.attempts)


# ---- subscriptions -------------------------------------------------------------------------------
@router.get("/webhooks", responses=NOT_FOUND)
async def list_webhooks(
    request: Request, principal: WebhooksRead, page: PageParams, tenant: str | None = TenantQuery
) -> Page[WebhookOut]:
    async with request.app.state.kilowatt.sessions() as db:
        tenant_id = (
            principal.tenant_id if tenant is None else await target_tenant(db, principal, tenant)
        )
        rows, total = await service.subscriptions_page(
            db, tenant_id, limit=page.limit, offset=page.offset
        )
        return Page[WebhookOut].of([WebhookOut.model_validate(r) for r in rows], total, page)


@router.post("/webhooks", status_code=201, responses=NOT_FOUND)
async def create_webhook(
    request: Request, principal: WebhooksWrite, body: WebhookCreate
) -> WebhookWithSecret:
    """Subscribe a URL to event types; the answer holds the signing secret, shown only now."""
    async with request.app.state.kilowatt.sessions() as db:
        tenant_id = await target_tenant(db, principal, body.tenant)
        with webhook_problems():
            subscription = await service.create_subscription(
                db,
                tenant_id,
                url=body.url,
                event_types=body.event_types,
                description=body.description,
                active=body.active,
            )
        await db.commit()
        return WebhookWithSecret.model_validate(subscription)


@router.get("/webhooks/{webhook_id}", responses=NOT_FOUND)
async def get_webhook(request: Request, principal: WebhooksRead, webhook_id: IdPath) -> WebhookOut:
    async with request.app.state.kilowatt.sessions() as db:
        with webhook_problems():
            return WebhookOut.model_validate(
                await service.visible_subscription(db, webhook_id, principal.tenant_id)
            )


@router.patch("/webhooks/{webhook_id}", responses=NOT_FOUND)
async def update_webhook(
    request: Request, principal: WebhooksWrite, webhook_id: IdPath, body: WebhookUpdate
) -> WebhookOut:
    """Change what is given; ``active: true`` switches it on again and its pending deliveries
    go out."""
    async with request.app.state.kilowatt.sessions() as db:
        with webhook_problems():
            subscription = await service.visible_subscription(db, webhook_id, principal.tenant_id)
            subscription = await service.update_subscription(
                db,
                subscription,
                url=body.url,
                event_types=body.event_types,
                description=body.description,
                clear_description="description" in body.model_fields_set
                and body.description is None,
                active=body.active,
            )
        await db.commit()
        out = WebhookOut.model_validate(subscription)
    if out.active:
        _dispatcher(request).wake()
    return out


@router.delete("/webhooks/{webhook_id}", status_code=204, responses=NOT_FOUND)
async def delete_webhook(
    request: Request, principal: WebhooksWrite, webhook_id: IdPath
) -> Response:
    """Delete the subscription and its delivery log; nothing more is sent to it."""
    async with request.app.state.kilowatt.sessions() as db:
        with webhook_problems():
            subscription = await service.visible_subscription(db, webhook_id, principal.tenant_id)
            await service.delete_subscription(db, subscription)
        await db.commit()
    return Response(status_code=204)


@router.post("/webhooks/{webhook_id}/rotate-secret", responses=NOT_FOUND)
async def rotate_webhook_secret(
    request: Request, principal: WebhooksWrite, webhook_id: IdPath
) -> WebhookWithSecret:
    """A new signing secret, shown only now; the old one stops working at once."""
    async with request.app.state.kilowatt.sessions() as db:
        with webhook_problems():
            subscription = await service.visible_subscription(db, webhook_id, principal.tenant_id)
            await service.rotate_secret(db, subscription)
        await db.commit()
        return WebhookWithSecret.model_validate(subscription)


# ---- deliveries ----------------------------------------------------------------------------------
@router.get("/webhooks/{webhook_id}/deliveries", responses=NOT_FOUND)
async def list_deliveries(
    request: Request,
    principal: WebhooksRead,
    webhook_id: IdPath,
    page: PageParams,
    state: DeliveryState | None = Query(None, description="only deliveries in this state"),
) -> Page[DeliveryOut]:
    """The delivery log, newest first, each delivery with its attempts."""
    async with request.app.state.kilowatt.sessions() as db:
        with webhook_problems():
            subscription = await service.visible_subscription(db, webhook_id, principal.tenant_id)
        views, total = await service.deliveries_page(
            db, subscription, state, limit=page.limit, offset=page.offset
        )
        return Page[DeliveryOut].of(
            [DeliveryOut.of(v.delivery, v.attempts) for v in views], total, page
        )


@router.post("/webhooks/{webhook_id}/test", responses=NOT_FOUND)
async def test_webhook(
    request: Request, principal: WebhooksWrite, webhook_id: IdPath
) -> DeliveryOut:
    """Send a ``webhook.test`` event to this subscription now (also when it is switched off)
    and answer with the outcome: ``delivered``, or ``failed`` with the status code or error.
    A failed test is not retried and does not count towards switching the subscription off."""
    async with request.app.state.kilowatt.sessions() as db:
        with webhook_problems():
            subscription = await service.visible_subscription(db, webhook_id, principal.tenant_id)
        delivery_id = await service.add_test_delivery(db, subscription)
        await db.commit()
    await _dispatcher(request).attempt(delivery_id, claim_from=None, scheduled=False)
    return await _delivery_out(request, delivery_id)


@router.post("/webhooks/deliveries/{delivery_id}/retry", responses=NOT_FOUND_OR_CONFLICT)
async def retry_delivery(
    request: Request, principal: WebhooksWrite, delivery_id: IdPath
) -> DeliveryOut:
    """Send a failed delivery once more, now, with the same webhook-id; answer with the
    outcome. 409 unless it failed."""
    async with request.app.state.kilowatt.sessions() as db:
        with webhook_problems():
            delivery = await service.visible_delivery(db, delivery_id, principal.tenant_id)
            service.check_redeliverable(delivery)
    if not await _dispatcher(request).attempt(delivery_id, claim_from="failed", scheduled=False):
        raise Problem(409, "Delivery not failed", "another redelivery of it is under way")
    return await _delivery_out(request, delivery_id)
