"""Receipts (JSON and a printable HTML page) and the operators' CSV export of sessions and costs."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from html import escape
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kilowatt.billing.models import Payment
from kilowatt.billing.pricing import breakdown_from_json
from kilowatt.billing.tariffs import parse_tariff
from kilowatt.billing.views import amount, breakdown_view, payment_view, plain_price
from kilowatt.sessions.models import ChargingSession
from kilowatt.stations.models import Station
from kilowatt.tenants.models import Site, Tenant

# A receipt exists once the session's cost is known: billed (final or provisional), held for
# review (the receipt says so), or free.
RECEIPT_COST_STATES = ("final", "provisional", "review", "waived", "none")


class NoReceipt(Exception):
    """The session has no receipt yet (still open, or never started)."""


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _masked(id_tag: str) -> str:
    return id_tag if len(id_tag) <= 4 else "•" * (len(id_tag) - 4) + id_tag[-4:]


async def receipt(db: AsyncSession, session: ChargingSession, evse_id: str) -> dict[str, Any]:
    """The receipt of a finished session; raises NoReceipt while there is none."""
    if session.state != "completed" or session.cost_status not in RECEIPT_COST_STATES:
        raise NoReceipt(f"the session is {session.state}; its receipt comes when it has ended")
    station = await db.get(Station, session.station_id)
    tenant = await db.get(Tenant, session.tenant_id)
    assert station is not None and tenant is not None
    site = await db.get(Site, station.site_id) if station.site_id is not None else None
    payment = await db.scalar(select(Payment).where(Payment.session_id == session.id))
    breakdown = (
        breakdown_from_json(session.cost_breakdown) if session.cost_breakdown is not None else None
    )
    duration = (
        int((session.ended_at - session.started_at).total_seconds())
        if session.ended_at and session.started_at
        else None
    )
    snapshot = session.tariff_snapshot
    return {
        "receiptNumber": f"{tenant.slug.upper()}-{session.id:08d}",
        "status": session.cost_status,
        "issuedAt": _iso(session.billed_at),
        "operator": {"name": tenant.name},
        "location": None if site is None else {"name": site.name, "address": site.address},
        "station": {
            "chargingStationId": station.charge_point_id,
            "evseId": evse_id,
            "connectorId": session.connector_id,
        },
        "session": {
            "sessionId": session.id,
            "chargeTag": _masked(session.id_tag),
            "startedAt": _iso(session.started_at),
            "endedAt": _iso(session.ended_at),
            "durationSeconds": duration,
            "meterStartWh": session.meter_start_wh,
            "meterStopWh": session.meter_stop_wh,
            "energyWh": session.energy_wh,
            "reconciled": session.reconciled,
        },
        "tariff": None
        if snapshot is None
        else {
            "name": snapshot["name"],
            "version": snapshot["version"],
            "price": plain_price(
                parse_tariff(snapshot["spec"]), at=session.started_at or session.requested_at
            ),
        },
        "cost": None if breakdown is None else breakdown_view(breakdown),
        "reviewReason": session.billing_review_reason,
        "payment": payment_view(payment),
    }


_STATUS_NOTES = {
    "final": "",
    "provisional": "Provisional: billed from the charger's last reading; the charger's own "
    "final reading will confirm it.",
    "review": "Under review: the charger reported implausible data, so nothing has been billed "
    "yet. An operator will check it.",
    "waived": "Waived: the operator decided not to bill this session.",
    "none": "No tariff applied: this session was free of charge.",
}


def _row(label: str, value: object) -> str:
    return (
        f"<tr><th>{escape(label)}</th><td>{escape('' if value is None else str(value))}</td></tr>"
    )


def render_html(r: dict[str, Any]) -> str:
    """A self-contained printable page (no external assets)."""
    s, st, cost = r["session"], r["station"], r["cost"]
    location = r["location"]
    lines = ""
    if cost is not None:
        for line in cost["lines"]:
            lines += (
                f"<tr><td>{escape(line['description'])}</td>"
                f"<td class=n>{escape(line['quantity'])} {escape(line['unit'])}</td>"
                f"<td class=n>{escape(line['unitPrice'])}</td>"
                f"<td class=n>{escape(line['amount'])}</td></tr>"
            )
        lines += (
            f"<tr class=sum><td colspan=3>Subtotal (excl. VAT)</td>"
            f"<td class=n>{escape(cost['subtotal'])}</td></tr>"
            f"<tr><td colspan=3>VAT {escape(cost['vatPercent'])} %</td>"
            f"<td class=n>{escape(cost['tax'])}</td></tr>"
            f"<tr class=total><td colspan=3>Total {escape(cost['currency'])}</td>"
            f"<td class=n>{escape(cost['total'])}</td></tr>"
        )
    payment = r["payment"]
    paid = ""
    if payment is not None:
        paid = _row("Payment", payment["state"]) + _row("Captured", payment["captured"])
        if payment["balanceDue"] is not None and Decimal(payment["balanceDue"]) != 0:
            paid += _row("Balance due", payment["balanceDue"])
    note = _STATUS_NOTES.get(r["status"], "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Receipt {escape(r["receiptNumber"])}</title>
<style>
body{{font:15px/1.45 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#111}}
h1{{font-size:1.4rem;margin:0 0 .2rem}} .muted{{color:#555}}
table{{width:100%;border-collapse:collapse;margin:1rem 0}} th,td{{text-align:left;padding:.3rem .4rem}}
th{{font-weight:600;width:40%}} .n{{text-align:right;font-variant-numeric:tabular-nums}}
.lines td{{border-bottom:1px solid #ddd}} .sum td{{border-top:2px solid #111}}
.total td{{font-weight:700;font-size:1.1rem}} .note{{background:#fff6d5;padding:.6rem;border-radius:4px}}
@media print{{.note{{border:1px solid #999}}}}
</style></head><body>
<h1>Charging receipt</h1>
<p class="muted">{escape(r["operator"]["name"])} · No. {escape(r["receiptNumber"])}
 · issued {escape(r["issuedAt"] or "—")}</p>
{f'<p class="note">{escape(note)}</p>' if note else ""}
<table>
{_row("Location", None if location is None else f"{location['name']}, {location['address'] or ''}")}
{_row("Charger", f"{st['chargingStationId']} (EVSE {st['evseId']})")}
{_row("Charge tag", s["chargeTag"])}
{_row("Start (UTC)", s["startedAt"])}
{_row("End (UTC)", s["endedAt"])}
{_row("Energy", f"{s['energyWh']} Wh" if s["energyWh"] is not None else None)}
{_row("Tariff", None if r["tariff"] is None else f"{r['tariff']['name']} — {r['tariff']['price']['text']} (VAT incl.)")}
{paid}
</table>
<table class="lines"><tr><th>Item</th><th class=n>Quantity</th><th class=n>Unit price</th>
<th class=n>Amount</th></tr>
{lines}
</table>
<p class="muted">Unit prices and amounts exclude VAT; the total includes it.</p>
</body></html>
"""


CSV_COLUMNS = (
    "session_id",
    "state",
    "cost_status",
    "charging_station_id",
    "connector_id",
    "id_tag",
    "user_id",
    "started_at",
    "ended_at",
    "energy_wh",
    "currency",
    "energy",
    "time",
    "idle",
    "fee",
    "reservation",
    "subtotal",
    "tax",
    "total",
    "payment_state",
    "captured",
    "refunded",
    "balance_due",
    "review_reason",
)


def csv_rows(
    rows: Iterable[tuple[ChargingSession, str, Payment | None]],
) -> Iterable[Sequence[Any]]:
    for session, charge_point_id, payment in rows:
        b = (
            breakdown_from_json(session.cost_breakdown)
            if session.cost_breakdown is not None
            else None
        )
        yield (
            session.id,
            session.state,
            session.cost_status,
            charge_point_id,
            session.connector_id,
            session.id_tag,
            session.user_id,
            _iso(session.started_at),
            _iso(session.ended_at),
            session.energy_wh,
            session.currency,
            *(
                (b.energy, b.time, b.parking, b.flat, b.reservation, b.subtotal, b.tax, b.total)
                if b is not None
                else (None,) * 8
            ),
            payment.state.removesuffix(":claimed") if payment else None,
            amount(payment.captured_amount, payment.currency) if payment else None,
            amount(payment.refunded_amount, payment.currency) if payment else None,
            amount(payment.balance_due, payment.currency) if payment else None,
            session.billing_review_reason,
        )


def to_csv(rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(["" if v is None else _csv_safe(v) for v in row])
    return out.getvalue()


def _csv_safe(value: object) -> str:
    """Neutralise spreadsheet formulas (CSV injection) in text cells a driver could choose."""
    text = str(value)
    return (
        "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _number(text) else text
    )


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
