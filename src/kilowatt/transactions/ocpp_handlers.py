"""OCPP 1.6 StartTransaction / MeterValues / StopTransaction → the transactions service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from kilowatt.billing.service import BillingPolicy
from kilowatt.config import Settings
from kilowatt.events import Event
from kilowatt.gateway.context import OcppContext
from kilowatt.ocpp.rpc import ErrorCode, OcppError
from kilowatt.ocpp.v16 import messages as m
from kilowatt.tokens.ocpp_handlers import id_tag_info
from kilowatt.transactions import service
from kilowatt.transactions.metering import Sample, normalise


def samples(meter_values: Sequence[m.MeterValue]) -> list[Sample]:
    return [
        normalise(
            timestamp=mv.timestamp,
            value=sv.value,
            measurand=sv.measurand,
            unit=sv.unit,
            phase=sv.phase,
            context=sv.context,
            location=sv.location,
            format=sv.format,
        )
        for mv in meter_values
        for sv in mv.sampled_value
    ]


# The schemas say "integer" with no bound; the columns are 32-bit (PostgreSQL ``integer``), and
# no transactionId we issue is larger. Beyond it: PropertyConstraintViolation, before any write
# (docs/sessions.md "Transaction faults"), never a database overflow answered InternalError.
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def within_bounds(field: str, value: int | None, low: int = INT32_MIN) -> None:
    if value is not None and not low <= value <= INT32_MAX:
        raise OcppError(
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
            f"{field} {value} is outside {low}..{INT32_MAX}",
            {"field": field},
        )


def billing_policy(settings: Settings) -> BillingPolicy:
    return BillingPolicy(
        provider=settings.payment_provider, max_power_w=settings.billing_max_power_w
    )


async def start_transaction(
    ctx: OcppContext, req: m.StartTransactionRequest
) -> m.StartTransactionResponse:
    within_bounds("connectorId", req.connector_id, low=0)
    within_bounds("meterStart", req.meter_start)
    within_bounds("reservationId", req.reservation_id)
    result = await service.start(
        ctx.db,
        station_id=ctx.station_id,
        tenant_id=ctx.tenant_id,
        connector_id=req.connector_id,
        id_tag=req.id_tag,
        meter_start=req.meter_start,
        timestamp=req.timestamp,
        reservation_id=req.reservation_id,
        now=ctx.now,
        session_window=timedelta(seconds=ctx.settings.connection_timeout),
        policy=billing_policy(ctx.settings),
    )
    ctx.events.append(
        Event(
            "transaction.started",
            {"stationId": ctx.station_id, "transactionId": result.transaction_id},
            tenant_id=ctx.tenant_id,
            station=ctx.charge_point_id,
            connector_id=req.connector_id,
        )
    )
    return m.StartTransactionResponse(
        transaction_id=result.transaction_id, id_tag_info=id_tag_info(result.authorization)
    )


async def meter_values(ctx: OcppContext, req: m.MeterValuesRequest) -> m.MeterValuesResponse:
    within_bounds("connectorId", req.connector_id, low=0)
    within_bounds("transactionId", req.transaction_id)
    sampled = samples(req.meter_value)
    await service.meter_values(
        ctx.db,
        station_id=ctx.station_id,
        connector_id=req.connector_id,
        transaction_id=req.transaction_id,
        samples=sampled,
        now=ctx.now,
    )
    ctx.events.append(
        Event(
            "meter_values",
            {"transactionId": req.transaction_id, **latest_readings(sampled)},
            tenant_id=ctx.tenant_id,
            station=ctx.charge_point_id,
            connector_id=req.connector_id,
        )
    )
    return m.MeterValuesResponse()


def latest_readings(sampled: Sequence[Sample]) -> dict[str, object]:
    """The newest energy register, active power and SoC of a MeterValues, for live views, and
    the newest current per phase (``currentsA``, for load management) where the station gave
    it."""
    energy = power = soc = at = None
    currents: dict[str, float] = {}
    for sample in sampled:  # samples are in the station's order: the last one is the newest
        if sample.value is None:
            continue
        if sample.phase is not None:
            if sample.measurand == "Current.Import" and sample.unit == "A":
                currents[str(getattr(sample.phase, "value", sample.phase))] = float(sample.value)
            continue
        if sample.is_energy_register:
            energy, at = int(sample.value), sample.timestamp
        elif sample.measurand == "Power.Active.Import" and sample.unit == "W":
            power = int(sample.value)
        elif sample.measurand == "SoC":
            soc = float(sample.value)
    return {
        "energyWh": energy,
        "powerW": power,
        "socPercent": soc,
        "timestamp": None if at is None else at.isoformat(),
        **({"currentsA": currents} if currents else {}),
    }


async def stop_transaction(
    ctx: OcppContext, req: m.StopTransactionRequest
) -> m.StopTransactionResponse:
    within_bounds("meterStop", req.meter_stop)
    within_bounds("transactionId", req.transaction_id)
    authorization = await service.stop(
        ctx.db,
        station_id=ctx.station_id,
        tenant_id=ctx.tenant_id,
        transaction_id=req.transaction_id,
        id_tag=req.id_tag,
        meter_stop=req.meter_stop,
        timestamp=req.timestamp,
        reason=req.reason,
        samples=samples(req.transaction_data or []),
        now=ctx.now,
        policy=billing_policy(ctx.settings),
    )
    ctx.events.append(
        Event(
            "transaction.stopped",
            {"stationId": ctx.station_id, "transactionId": req.transaction_id},
        )
    )
    if authorization is None:
        return m.StopTransactionResponse()
    return m.StopTransactionResponse(id_tag_info=id_tag_info(authorization))
