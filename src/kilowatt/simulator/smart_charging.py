"""The simulated charger's Smart Charging profile: the profiles it holds, and a draw that obeys
them at every moment.

Like a charger, it keeps profiles per connector (purposes, stack levels, replacement by id or
by stack level and purpose), checks them against its configuration keys
(ChargeProfileMaxStackLevel, ChargingScheduleAllowedChargingRateUnit,
ChargingScheduleMaxPeriods, MaxChargingProfilesInstalled), answers GetCompositeSchedule with
the composite of ``kilowatt.smart_charging.composite``, and limits the car:

* an AC station works in amperes per phase (a W limit becomes A at 230 V and the period's
  phases, OCPP 1.6 §7.12); the car may draw ``A x 226.55 V x phases`` -- the lowest voltage the
  simulated meter reports (230 V - 1.5 %), so that the metered current never exceeds the limit
  -- where ``phases`` is the car's (1 or 3), or the period's numberPhases if fewer: a 16 A
  limit lets a single-phase car draw 16 A on its one phase;
* an AC connector's max power is for three phases: a car on fewer phases gets that share of it
  (the connector's current rating per phase is the limit, as with a real one);
* a DC station works in watts (an A limit becomes W at 230 V x 3, as the composite converts);
* a ChargePointMaxProfile is shared equally by the connectors that are energizing;
* the energy between two meter ticks is integrated piece by piece over the limit's changes.

Profiles persist across reboots (errata 3.37); TxProfiles end with their transaction.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from kilowatt.ocpp.v16.enums import (
    ChargingProfilePurposeType,
    ChargingProfileStatus,
    ChargingRateUnitType,
    ClearChargingProfileStatus,
    GetCompositeScheduleStatus,
)
from kilowatt.ocpp.v16.messages import (
    ChargingProfile,
    ClearChargingProfileRequest,
    GetCompositeScheduleRequest,
    GetCompositeScheduleResponse,
    SetChargingProfileRequest,
)
from kilowatt.smart_charging.composite import Composite, Installed, composite_schedule
from kilowatt.smart_charging.profiles import ProfileInvalid, check_profile

from .configuration import KeySpec
from .ev import advance
from .phases import GRID_PHASES

if TYPE_CHECKING:
    from .charging import Connector, Transaction
    from .station import SimulatedStation

__all__ = [
    "PROFILE",
    "Held",
    "ProfileStore",
    "charge",
    "draw_a",
    "draw_phases",
    "draw_w",
    "smart_charging_keys",
]

PROFILE = "SmartCharging"
AMPS, WATTS = ChargingRateUnitType.AMPS, ChargingRateUnitType.WATTS
CHARGE_POINT_MAX = ChargingProfilePurposeType.CHARGE_POINT_MAX_PROFILE
TX = ChargingProfilePurposeType.TX_PROFILE
#: The lowest voltage the simulated AC meter reports (230 V - 1.5 %).
SAFE_VOLTAGE = 230.0 * 0.985
_UNIT_NAMES = {"current": AMPS, "power": WATTS}


def utcnow() -> datetime:
    return datetime.now(UTC)


def smart_charging_keys(*, dc: bool) -> list[tuple[KeySpec, str]]:
    """The Smart Charging configuration keys (OCPP 1.6 §9.4), all read-only."""
    return [
        (KeySpec("ChargeProfileMaxStackLevel", True), "8"),
        (KeySpec("ChargingScheduleAllowedChargingRateUnit", True), "Current,Power"),
        (KeySpec("ChargingScheduleMaxPeriods", True), "24"),
        (KeySpec("ConnectorSwitch3to1PhaseSupported", True), "false"),
        (KeySpec("MaxChargingProfilesInstalled", True), "16"),
    ]


@dataclass(slots=True)
class Held:
    """A profile the charger holds. A TxProfile is bound to its transaction (the object: it may
    not have an id yet); one from RemoteStartTransaction binds to the next transaction."""

    connector_id: int
    profile: ChargingProfile
    transaction: Transaction | None = None


class ProfileStore:
    """Profiles per connector, as a charger keeps them."""

    __slots__ = ("held",)

    def __init__(self) -> None:
        self.held: list[Held] = []

    def in_force(self, connectors: dict[int, Connector]) -> list[Installed]:
        """The profiles that apply now; TxProfiles of ended transactions are dropped."""
        kept: list[Held] = []
        for item in self.held:
            if item.profile.charging_profile_purpose is TX:
                connector = connectors.get(item.connector_id)
                running = connector.transaction if connector is not None else None
                if item.transaction is not None and item.transaction is not running:
                    continue  # its transaction ended: the profile with it (§3.13.1)
                if item.transaction is None and running is not None:
                    item.transaction = running
            kept.append(item)
        self.held = kept
        return [Installed(h.connector_id, h.profile) for h in kept]

    def install(self, item: Held) -> None:
        profile = item.profile
        self.held = [
            h
            for h in self.held
            if h.profile.charging_profile_id != profile.charging_profile_id
            and not (
                h.connector_id == item.connector_id
                and h.profile.charging_profile_purpose is profile.charging_profile_purpose
                and h.profile.stack_level == profile.stack_level
            )
        ]
        self.held.append(item)

    def remove(self, item: Held) -> None:
        self.held = [h for h in self.held if h is not item]

    def would_hold(self, connector_id: int, profile: ChargingProfile) -> int:
        """How many profiles there would be after installing ``profile``."""
        replaced = sum(
            1
            for h in self.held
            if h.profile.charging_profile_id == profile.charging_profile_id
            or (
                h.connector_id == connector_id
                and h.profile.charging_profile_purpose is profile.charging_profile_purpose
                and h.profile.stack_level == profile.stack_level
            )
        )
        return len(self.held) - replaced + 1

    def clear(self, req: ClearChargingProfileRequest) -> bool:
        """Remove every profile matching all given fields (errata 3.25); whether any was."""
        before = len(self.held)
        self.held = [
            h
            for h in self.held
            if not (
                req.id in (None, h.profile.charging_profile_id)
                and req.connector_id in (None, h.connector_id)
                and req.charging_profile_purpose in (None, h.profile.charging_profile_purpose)
                and req.stack_level in (None, h.profile.stack_level)
            )
        ]
        return len(self.held) < before


# -- the station's side: checks, answers -------------------------------------------------------
def _allowed_units(st: SimulatedStation) -> set[ChargingRateUnitType]:
    names = st.configuration["ChargingScheduleAllowedChargingRateUnit"].split(",")
    return {_UNIT_NAMES[n.strip().lower()] for n in names if n.strip().lower() in _UNIT_NAMES}


def refusal(
    st: SimulatedStation, connector_id: int, profile: ChargingProfile, *, remote_start: bool
) -> str | None:
    """Why the charger refuses ``profile`` on ``connector_id`` (None: it accepts it)."""
    if connector_id != 0 and connector_id not in st.connectors:
        return f"no connector {connector_id}"
    if profile.stack_level > int(st.configuration["ChargeProfileMaxStackLevel"]):
        return "stack level above ChargeProfileMaxStackLevel"
    schedule = profile.charging_schedule
    if schedule.charging_rate_unit not in _allowed_units(st):
        return "unit not in ChargingScheduleAllowedChargingRateUnit"
    if len(schedule.charging_schedule_period) > int(st.configuration["ChargingScheduleMaxPeriods"]):
        return "more periods than ChargingScheduleMaxPeriods"
    if st.profiles.would_hold(connector_id, profile) > int(
        st.configuration["MaxChargingProfilesInstalled"]
    ):
        return "MaxChargingProfilesInstalled reached"
    running: int | None = None
    if connector_id in st.connectors:
        transaction = st.connectors[connector_id].transaction
        if transaction is not None:
            # Before StartTransaction.conf the charger cannot tell: take the profile's word.
            running = transaction.transaction_id or profile.transaction_id or 0
    try:
        check_profile(
            connector_id,
            profile,
            running_transaction_id=running,
            transaction_known=not remote_start,
        )
    except ProfileInvalid as exc:
        return str(exc)
    return None


def set_profile(st: SimulatedStation, req: SetChargingProfileRequest) -> ChargingProfileStatus:
    profile = req.cs_charging_profiles
    if refusal(st, req.connector_id, profile, remote_start=False) is not None:
        return ChargingProfileStatus.REJECTED
    tick_all(st)
    transaction = None
    if profile.charging_profile_purpose is TX:
        transaction = st.connectors[req.connector_id].transaction
    st.profiles.install(Held(req.connector_id, profile, transaction))
    st._notify()
    return ChargingProfileStatus.ACCEPTED


def remote_start_profile(
    st: SimulatedStation, connector: Connector, profile: ChargingProfile
) -> Held | None:
    """Hold the TxProfile of a RemoteStartTransaction for the transaction it starts; None if
    refused (it must be a TxProfile without transactionId, OCPP 1.6 §5.16.2, errata 3.41)."""
    if profile.charging_profile_purpose is not TX or profile.transaction_id is not None:
        return None
    if refusal(st, connector.connector_id, profile, remote_start=True) is not None:
        return None
    item = Held(connector.connector_id, profile)
    st.profiles.install(item)
    return item


def clear_profiles(
    st: SimulatedStation, req: ClearChargingProfileRequest
) -> ClearChargingProfileStatus:
    tick_all(st)
    cleared = st.profiles.clear(req)
    st._notify()
    return ClearChargingProfileStatus.ACCEPTED if cleared else ClearChargingProfileStatus.UNKNOWN


def station_unit(st: SimulatedStation) -> ChargingRateUnitType:
    return WATTS if st.dc else AMPS


def _max_in(st: SimulatedStation, unit: ChargingRateUnitType, connectors: int) -> Decimal:
    watts = st.config.max_power_w * connectors
    if unit is WATTS:
        return Decimal(int(watts))
    return Decimal(int(watts / (230 * 3) * 10)) / 10


def composite_answer(
    st: SimulatedStation, req: GetCompositeScheduleRequest
) -> GetCompositeScheduleResponse:
    """GetCompositeSchedule.conf: the composite from now for ``duration`` seconds."""
    rejected = GetCompositeScheduleResponse(status=GetCompositeScheduleStatus.REJECTED)
    if req.connector_id != 0 and req.connector_id not in st.connectors:
        return rejected
    unit = req.charging_rate_unit or station_unit(st)
    if unit not in _allowed_units(st) or req.duration <= 0:
        return rejected
    composite = connector_composite(st, req.connector_id, utcnow(), req.duration, unit)
    count = len(st.connectors) if req.connector_id == 0 else 1
    schedule = composite.as_schedule(_max_in(st, unit, count))
    return GetCompositeScheduleResponse(
        status=GetCompositeScheduleStatus.ACCEPTED,
        connector_id=req.connector_id,
        schedule_start=composite.start,
        charging_schedule=schedule,
    )


def connector_composite(
    st: SimulatedStation,
    connector_id: int,
    start: datetime,
    duration: int,
    unit: ChargingRateUnitType,
    *,
    purposes: Iterable[ChargingProfilePurposeType] | None = None,
) -> Composite:
    profiles = st.profiles.in_force(st.connectors)
    if purposes is not None:
        wanted = set(purposes)
        profiles = [p for p in profiles if p.profile.charging_profile_purpose in wanted]
    connector = st.connectors.get(connector_id)
    transaction = connector.transaction if connector is not None else None
    return composite_schedule(
        profiles,
        connector_id=connector_id,
        start=start,
        duration=duration,
        unit=unit,
        transaction_id=transaction.transaction_id if transaction is not None else None,
        transaction_start=transaction.started_at if transaction is not None else None,
    )


# -- the draw ----------------------------------------------------------------------------------
def _energizing(st: SimulatedStation) -> int:
    return sum(1 for c in st.connectors.values() if c.energizing and c.ev is not None)


def _cap_w(
    st: SimulatedStation, limit: Decimal | None, phases: int | None, car_phases: int
) -> float:
    if limit is None:
        return float("inf")
    if st.dc:
        return float(limit)
    return float(limit) * SAFE_VOLTAGE * min(phases or 3, 3, car_phases)


def connector_max_w(st: SimulatedStation, connector: Connector) -> float:
    """The most the connector delivers to its car (W): on AC its per-phase current rating
    times the phases the car uses."""
    if st.dc or connector.ev is None:
        return st.config.max_power_w
    return st.config.max_power_w * min(connector.ev.phases, 3) / 3


def caps_w(
    st: SimulatedStation, connector: Connector, start: datetime, end: datetime
) -> list[tuple[float, float]]:
    """The power the car on ``connector`` may draw over [start, end): (seconds, W) pieces."""
    unit = station_unit(st)
    # whole seconds around the window, so that every change inside it is a boundary
    begin = start.replace(microsecond=0)
    duration = int((end - begin).total_seconds()) + 2
    own = connector_composite(
        st, connector.connector_id, begin, duration, unit, purposes=(TX, _TX_DEFAULT)
    )
    whole = connector_composite(st, 0, begin, duration, unit, purposes=(CHARGE_POINT_MAX,))
    sharing = max(1, _energizing(st))
    car_phases = connector.ev.phases if connector.ev is not None else 3
    pieces: list[tuple[float, float]] = []
    cuts = sorted(
        {start, end}
        | {
            own.start + timedelta(seconds=p.start)
            for p in (*own.periods, *whole.periods)
            if start < own.start + timedelta(seconds=p.start) < end
        }
    )
    for a, b in itertools.pairwise(cuts):
        offset = (a - own.start).total_seconds()
        mine, station = own.at(offset), whole.at(offset)
        cap = min(
            connector_max_w(st, connector),
            _cap_w(st, mine.limit, mine.number_phases, car_phases),
            # each energizing connector gets an equal share of the station's A per phase
            _cap_w(st, station.limit, station.number_phases, car_phases) / sharing,
        )
        pieces.append(((b - a).total_seconds(), cap))
    return pieces


_TX_DEFAULT = ChargingProfilePurposeType.TX_DEFAULT_PROFILE


def charge(st: SimulatedStation, connector: Connector, elapsed: float) -> tuple[float, float]:
    """Charge the car for ``elapsed`` wall seconds up to now, within the limits in force then;
    (metered Wh, W at the end)."""
    assert connector.ev is not None
    if not st.profiles.held:
        return advance(
            connector.ev,
            elapsed,
            time_scale=st.config.time_scale,
            connector_max_w=connector_max_w(st, connector),
            dc=st.dc,
        )
    end = utcnow()
    energy = power = 0.0
    for seconds, cap in caps_w(st, connector, end - timedelta(seconds=elapsed), end):
        wh, power = advance(
            connector.ev, seconds, time_scale=st.config.time_scale, connector_max_w=cap, dc=st.dc
        )
        energy += wh
    return energy, power


def tick_all(st: SimulatedStation) -> None:
    """Bring every meter up to now under the limits so far (before they change)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    for connector in st.connectors.values():
        st._advance_meter(connector)


def draw_w(st: SimulatedStation, connector_id: int) -> float:
    """The power the car on the connector draws now (W)."""
    connector = st.connector(connector_id)
    tick_all(st)
    return connector.meter.power_w if connector.energizing else 0.0


def draw_a(st: SimulatedStation, connector_id: int) -> float:
    """The current the car on the connector draws now on its busiest phase (A; DC: the DC
    current): what the meter reads."""
    connector = st.connector(connector_id)
    tick_all(st)
    return connector.meter.current_a() if connector.energizing else 0.0


def draw_phases(st: SimulatedStation, connector_id: int | None = None) -> dict[int, float]:
    """The current now on each grid phase 1..3 (A) of the connector's car, or (connector_id
    None) of the whole station. DC: the charger's AC input, 230 V, losses left out."""
    targets = st.connectors.values() if connector_id is None else [st.connector(connector_id)]
    tick_all(st)
    total = dict.fromkeys(GRID_PHASES, 0.0)
    for connector in targets:
        if connector.energizing:
            for phase, amps in connector.meter.phase_currents().items():
                total[phase] += amps
    return total
