"""Billing API: receipts, the operators' export, refunds and review decisions, a driver's card,
and the payment provider's webhooks."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from kilowatt.api.auth import BillingRead, BillingRefund, IdPath
from kilowatt.api.problems import Problem
from kilowatt.auth.deps import CurrentDriver, require_principal
from kilowatt.auth.principal import Principal
from kilowatt.billing import decisions, receipts
from kilowatt.billing.cards import PaymentRefused
from kilowatt.billing.models import Payment
from kilowatt.billing.payment_service import Payments
from kilowatt.billing.payments.base import InvalidWebhook
from kilowatt.billing.views import amount
from kilowatt.sessions.controller import ChargingSessions, evse_id
from kilowatt.sessions.models import ChargingSession
from kilowatt.sessions.service import SessionRefused
from kilowatt.stations.models import Station

router = APIRouter(prefix="/api/v1", tags=["billing"])

Caller = Annotated[Principal, Depends(require_principal)]


def _node_sessions(request: Request) -> ChargingSessions:
    controller: ChargingSessions = request.app.state.kilowatt.charging_sessions
    return controller


def _payments(request: Request) -> Payments:
    payments: Payments = request.app.state.kilowatt.payments
    return payments


def _problem(exc: PaymentRefused | SessionRefused) -> Problem:
    return Problem(exc.status, exc.title, exc.detail)


async def _visible(
    request: Request, caller: Principal, session_id: int
) -> tuple[ChargingSessions, ChargingSession]:
    """The session if the caller may see it: a driver their own, an operator with sessions:read
    (or billing:read) their tenant's."""
    if not caller.is_driver and not (caller.can("sessions:read") or caller.can("billing:read")):
        raise Problem(403, "Forbidden", "this needs the sessions:read or billing:read permission")
    controller = _node_sessions(request)
    async with controller.sessions() as db:
        try:
            return controller, await controller.visible(db, caller, session_id)
        except SessionRefused as exc:
            raise _problem(exc) from None


# ---- receipts -----------------------------------------------------------------------------------


async def _receipt(request: Request, caller: Principal, session_id: int) -> dict[str, Any]:
    controller, session = await _visible(request, caller, session_id)
    async with controller.sessions() as db:
        fresh = await db.get(ChargingSession, session.id)
        station = await db.get(Station, session.station_id)
        assert fresh is not None and station is not None
        try:
            return await receipts.receipt(
                db, fresh, evse_id(controller.evse_operator_id, station, fresh.connector_id)
            )
        except receipts.NoReceipt as exc:
            raise Problem(409, "No receipt yet", str(exc)) from None


@router.get("/sessions/{session_id}/receipt")
async def get_receipt(request: Request, session_id: IdPath, caller: Caller) -> dict[str, Any]:
    """The session's receipt: station, times, energy, the itemised cost and tax, the payment."""
    return await _receipt(request, caller, session_id)


@router.get("/sessions/{session_id}/receipt.html", response_class=HTMLResponse)
async def get_receipt_html(request: Request, session_id: IdPath, caller: Caller) -> HTMLResponse:
    """The receipt as a printable page (print it to PDF from any browser)."""
    return HTMLResponse(receipts.render_html(await _receipt(request, caller, session_id)))


@router.get("/billing/sessions.csv", response_class=Response)
async def export_sessions(
    request: Request,
    caller: BillingRead,
    since: AwareDatetime = Query(alias="from"),
    until: AwareDatetime = Query(alias="to"),
) -> Response:
    """Sessions requested in [from, to) with their costs and payments, as CSV (one tenant's,
    or every tenant's for a platform admin)."""
    if until <= since:
        raise Problem(422, "Invalid period", "'to' must be after 'from'")
    query = (
        select(ChargingSession, Station.charge_point_id, Payment)
        .join(Station, Station.id == ChargingSession.station_id)
        .outerjoin(Payment, Payment.session_id == ChargingSession.id)
        .where(ChargingSession.requested_at >= since, ChargingSession.requested_at < until)
        .order_by(ChargingSession.requested_at, ChargingSession.id)
    )
    if caller.tenant_id is not None:
        query = query.where(ChargingSession.tenant_id == caller.tenant_id)
    async with _node_sessions(request).sessions() as db:
        rows = [(s, cp, p) for s, cp, p in (await db.execute(query)).all()]
    body = receipts.to_csv(receipts.csv_rows(rows))
    name = f"sessions-{since:%Y%m%d}-{until:%Y%m%d}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# ---- refunds and review decisions ---------------------------------------------------------------


class RefundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Decimal = Field(gt=0, max_digits=18, decimal_places=6)
    reason: str | None = Field(default=None, max_length=500)


@router.post("/sessions/{session_id}/refunds", status_code=201)
async def refund_session(
    request: Request,
    session_id: IdPath,
    caller: BillingRefund,
    body: RefundCreate,
    idempotency_key: str | None = Header(default=None, max_length=200),
) -> dict[str, Any]:
    """Refund (part of) a captured payment. Send an ``Idempotency-Key`` header: a retried
    request with the same key refunds once."""
    _, session = await _visible(request, caller, session_id)
    currency = session.currency or "EUR"
    try:
        refund = await _payments(request).refund(
            session_id,
            amount=body.amount,
            reason=body.reason,
            idempotency_key=idempotency_key or secrets.token_hex(16),
            requested_by=caller.actor,
        )
    except PaymentRefused as exc:
        raise _problem(exc) from None
    return {
        "id": refund.id,
        "sessionId": session_id,
        "amount": amount(refund.amount, currency),
        "status": refund.status,
        "reason": refund.reason,
        "providerRefundId": refund.provider_refund_id,
    }


class ReviewDecision(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    decision: Literal["bill", "waive"]
    energy_wh: int | None = Field(
        default=None,
        ge=0,
        le=10_000_000,
        alias="energyWh",
        description="bill this energy instead of the charger's readings",
    )
    note: str | None = Field(default=None, max_length=500)


@router.post("/sessions/{session_id}/billing-review")
async def decide_review(
    request: Request, session_id: IdPath, caller: BillingRefund, body: ReviewDecision
) -> dict[str, Any]:
    """Settle a session held for review: bill it (as read, or with a corrected energy), or
    waive it (nothing is charged and the hold is released)."""
    controller, _ = await _visible(request, caller, session_id)
    try:
        await decisions.decide(
            controller,
            session_id,
            decision=body.decision,
            energy_wh=body.energy_wh,
            note=body.note,
            who=caller.actor,
        )
    except decisions.NotUnderReview as exc:
        raise Problem(409, "Not under review", str(exc)) from None
    except decisions.CannotBill as exc:
        raise Problem(422, "Cannot bill as read", str(exc)) from None
    return await _receipt(request, caller, session_id)


# ---- a driver's card --------------------------------------------------------------------------


def _card(payments: Payments, account: Any) -> dict[str, Any]:
    card = None
    if account is not None and account.payment_method_id is not None:
        card = {
            "paymentMethodId": account.payment_method_id,
            "brand": account.card_brand,
            "last4": account.card_last4,
            "expMonth": account.card_exp_month,
            "expYear": account.card_exp_year,
        }
    return {
        "provider": payments.provider.name,
        "required": payments.provider.needs_payment_method,
        "card": card,
    }


@router.get("/me/payment-method", tags=["me"])
async def get_my_card(request: Request, driver: CurrentDriver) -> dict[str, Any]:
    """Whether this network needs a card to start, and the driver's card (brand and last 4)."""
    payments = _payments(request)
    assert driver.user_id is not None
    async with payments.sessions() as db:
        return _card(payments, await payments.cards.account(db, driver.user_id))


@router.post("/me/payment-method/setup", tags=["me"])
async def set_up_my_card(request: Request, driver: CurrentDriver) -> dict[str, Any]:
    """Start adding a card: the app confirms the returned client secret with the provider's
    SDK (card data never reaches Kilowatt), then sends the payment method id here (PUT)."""
    assert driver.user_id is not None
    try:
        intent, customer_id = await _payments(request).cards.setup_card(driver.user_id)
    except PaymentRefused as exc:
        raise _problem(exc) from None
    return {
        "setupIntentId": intent.id,
        "clientSecret": intent.client_secret,
        "customerId": customer_id,
    }


class CardSave(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    payment_method_id: str = Field(alias="paymentMethodId", min_length=1, max_length=255)


@router.put("/me/payment-method", tags=["me"])
async def save_my_card(request: Request, driver: CurrentDriver, body: CardSave) -> dict[str, Any]:
    assert driver.user_id is not None
    payments = _payments(request)
    try:
        account = await payments.cards.save_card(driver.user_id, body.payment_method_id)
    except PaymentRefused as exc:
        raise _problem(exc) from None
    return _card(payments, account)


@router.delete("/me/payment-method", status_code=204, tags=["me"])
async def remove_my_card(request: Request, driver: CurrentDriver) -> Response:
    assert driver.user_id is not None
    try:
        await _payments(request).cards.remove_card(driver.user_id)
    except PaymentRefused as exc:
        raise _problem(exc) from None
    return Response(status_code=204)


# ---- provider webhooks ------------------------------------------------------------------------


@router.post("/payments/webhooks/{provider}", tags=["payments"])
async def provider_webhook(request: Request, provider: str) -> dict[str, str]:
    """Events from the payment provider, authenticated by their signature (not by a login)."""
    payments = _payments(request)
    if provider != payments.provider.name:
        raise Problem(
            404, "Unknown provider", f"this node takes payments with {payments.provider.name}"
        )
    payload = await request.body()
    if len(payload) > 1 << 20:
        raise Problem(413, "Payload too large", "a webhook event is at most 1 MiB")
    try:
        outcome = await payments.webhook(payload, request.headers)
    except InvalidWebhook as exc:
        raise Problem(400, "Invalid webhook", str(exc)) from None
    return {"result": outcome}
