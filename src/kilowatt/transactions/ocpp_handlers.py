"""OCPP 1.6 StartTransaction / MeterValues / StopTransaction → the transactions service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from kilowatt.billing.service import BillingPolicy
from kilowatt.config import Settings
from kilowatt.events import Event
from kilowatt.gateway.context import OcppContext
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


def billing_policy(settings: Settings) -> BillingPolicy:
    return BillingPolicy(
        provider=settings.payment_provider, max_power_w=settings.billing_max_power_w
    )


async def start_transaction(
    ctx: OcppContext, req: m.StartTransactionRequest
) -> m.StartTransactionResponse:
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
    return m.StartTransactionResponse(
        transaction_id=result.transaction_id, id_tag_info=id_tag_info(result.authorization)
    )


async def meter_values(ctx: OcppContext, req: m.MeterValuesRequest) -> m.MeterValuesResponse:
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
    """The newest energy register, active power and SoC of a MeterValues, for live views."""
    energy = power = soc = at = None
    for sample in sampled:  # samples are in the station's order: the last one is the newest
        if sample.value is None or sample.phase is not None:
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
    }


async def stop_transaction(
    ctx: OcppContext, req: m.StopTransactionRequest
) -> m.StopTransactionResponse:
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
