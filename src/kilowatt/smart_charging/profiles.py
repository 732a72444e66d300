"""OCPP 1.6 charging profiles: the rules a profile must meet before a Central System sends it.

Pure: no I/O, no clock. The profile types are the protocol's own msgspec structs
(``kilowatt.ocpp.v16.messages.ChargingProfile``); this module adds what the JSON schema cannot
say (OCPP 1.6 §3.13, §5.16, §7.8-§7.14 and the errata sheet).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kilowatt.ocpp.v16.enums import (
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingRateUnitType,
    RecurrencyKind,
)
from kilowatt.ocpp.v16.messages import ChargingProfile, ChargingSchedule

__all__ = [
    "ABSOLUTE",
    "AMPS",
    "CHARGE_POINT_MAX",
    "DAILY",
    "RECURRING",
    "RELATIVE",
    "TX",
    "TX_DEFAULT",
    "WATTS",
    "WEEKLY",
    "ProfileInvalid",
    "Violation",
    "check_profile",
    "recurrence_seconds",
]

CHARGE_POINT_MAX = ChargingProfilePurposeType.CHARGE_POINT_MAX_PROFILE
TX_DEFAULT = ChargingProfilePurposeType.TX_DEFAULT_PROFILE
TX = ChargingProfilePurposeType.TX_PROFILE
ABSOLUTE = ChargingProfileKindType.ABSOLUTE
RECURRING = ChargingProfileKindType.RECURRING
RELATIVE = ChargingProfileKindType.RELATIVE
DAILY = RecurrencyKind.DAILY
WEEKLY = RecurrencyKind.WEEKLY
AMPS = ChargingRateUnitType.AMPS
WATTS = ChargingRateUnitType.WATTS

_TENTH = Decimal("0.1")
#: Ids and levels are kept as 32-bit integers (PostgreSQL int4).
MAX_INTEGER = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: where (a camelCase path into SetChargingProfile.req) and why."""

    field: str
    message: str


class ProfileInvalid(ValueError):
    """A profile no Central System should send; ``violations`` lists every broken rule."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("; ".join(f"{v.field}: {v.message}" for v in violations))
        self.violations = violations


def recurrence_seconds(kind: RecurrencyKind) -> int:
    """The length of one recurrence: a day or a week."""
    return 86_400 if kind is DAILY else 7 * 86_400


def _one_fraction_digit(value: Decimal) -> bool:
    # OCPP 1.6 §7.13/§7.14: limit and minChargingRate accept at most one fraction digit.
    return value == value.quantize(_TENTH)


def _check_schedule(schedule: ChargingSchedule, where: str) -> list[Violation]:
    found: list[Violation] = []
    periods = schedule.charging_schedule_period
    if not periods:
        found.append(Violation(f"{where}.chargingSchedulePeriod", "needs at least one period"))
        return found
    if periods[0].start_period != 0:
        found.append(
            Violation(
                f"{where}.chargingSchedulePeriod[0].startPeriod",
                "the first period starts at 0 (OCPP 1.6 §7.13)",
            )
        )
    for i, period in enumerate(periods):
        at = f"{where}.chargingSchedulePeriod[{i}]"
        if i and period.start_period <= periods[i - 1].start_period:
            found.append(Violation(f"{at}.startPeriod", "startPeriod values must ascend"))
        if period.start_period < 0:
            found.append(Violation(f"{at}.startPeriod", "must not be negative"))
        if schedule.duration is not None and period.start_period >= schedule.duration > 0:
            found.append(
                Violation(f"{at}.startPeriod", "starts after the end of the schedule (duration)")
            )
        if period.limit < 0:
            found.append(Violation(f"{at}.limit", "must not be negative"))
        elif not _one_fraction_digit(period.limit):
            found.append(Violation(f"{at}.limit", "at most one fraction digit (e.g. 8.1)"))
        if period.number_phases is not None and not 1 <= period.number_phases <= 3:
            found.append(Violation(f"{at}.numberPhases", "must be 1, 2 or 3"))
    if schedule.duration is not None and schedule.duration <= 0:
        found.append(Violation(f"{where}.duration", "must be positive"))
    rate = schedule.min_charging_rate
    if rate is not None and (rate < 0 or not _one_fraction_digit(rate)):
        found.append(
            Violation(f"{where}.minChargingRate", "non-negative, at most one fraction digit")
        )
    return found


def check_profile(
    connector_id: int,
    profile: ChargingProfile,
    *,
    running_transaction_id: int | None = None,
    transaction_known: bool = True,
) -> None:
    """Raise ``ProfileInvalid`` unless ``profile`` may be set on ``connector_id``.

    ``running_transaction_id`` is the transaction running on that connector (None: none);
    with ``transaction_known=False`` (a profile inside RemoteStartTransaction) the TxProfile
    rules about a running transaction are skipped.
    """
    found: list[Violation] = []
    purpose, kind = profile.charging_profile_purpose, profile.charging_profile_kind
    schedule = profile.charging_schedule
    where = "csChargingProfiles"
    for name, value in (
        ("connectorId", connector_id),
        (f"{where}.chargingProfileId", profile.charging_profile_id),
        (f"{where}.stackLevel", profile.stack_level),
        (f"{where}.transactionId", profile.transaction_id),
    ):
        if value is not None and not 0 <= value <= MAX_INTEGER:
            found.append(Violation(name, f"must be between 0 and {MAX_INTEGER}"))
    if purpose is CHARGE_POINT_MAX and connector_id != 0:
        found.append(
            Violation("connectorId", "a ChargePointMaxProfile is set on connector 0 (§3.13.1)")
        )
    if purpose is TX and connector_id == 0:
        found.append(Violation("connectorId", "a TxProfile is set on a connector > 0 (§3.13.1)"))
    if profile.transaction_id is not None and purpose is not TX:
        found.append(
            Violation(f"{where}.transactionId", "only a TxProfile names a transaction (§7.8)")
        )
    if purpose is TX and transaction_known and connector_id > 0:
        if running_transaction_id is None:
            found.append(
                Violation(
                    f"{where}.chargingProfilePurpose",
                    "a TxProfile needs a transaction running on the connector (§5.16.4)",
                )
            )
        elif profile.transaction_id not in (None, running_transaction_id):
            found.append(
                Violation(
                    f"{where}.transactionId",
                    f"the transaction running on connector {connector_id} is "
                    f"{running_transaction_id}",
                )
            )
    if kind is RECURRING:
        if profile.recurrency_kind is None:
            found.append(
                Violation(f"{where}.recurrencyKind", "a Recurring profile needs Daily or Weekly")
            )
        if schedule.start_schedule is None:
            found.append(
                Violation(
                    f"{where}.chargingSchedule.startSchedule",
                    "a Recurring profile needs the start of its first recurrence",
                )
            )
    elif profile.recurrency_kind is not None:
        found.append(
            Violation(f"{where}.recurrencyKind", "only for a Recurring profile (errata 3.56)")
        )
    if kind is ABSOLUTE and schedule.start_schedule is None:
        found.append(
            Violation(
                f"{where}.chargingSchedule.startSchedule", "an Absolute profile needs its start"
            )
        )
    if kind is RELATIVE and schedule.start_schedule is not None:
        found.append(
            Violation(
                f"{where}.chargingSchedule.startSchedule",
                "a Relative profile starts with the transaction: leave startSchedule out",
            )
        )
    if (
        profile.valid_from is not None
        and profile.valid_to is not None
        and profile.valid_to <= profile.valid_from
    ):
        found.append(Violation(f"{where}.validTo", "must be after validFrom"))
    found += _check_schedule(schedule, f"{where}.chargingSchedule")
    if found:
        raise ProfileInvalid(found)
