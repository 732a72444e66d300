"""Uptime as 23 CFR 680.116(b) (NEVI) and the CEC count it: the interval arithmetic, no I/O.

Minutes are computed by hand in each test; the NEVI formula is
((period - (T_outage - T_excluded)) / period) * 100.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kilowatt.analytics.uptime import (
    Exclusion,
    StatusRecord,
    connection_offline,
    merge,
    percent,
    silent_offline,
    status_down,
    uptime,
)

DAY = datetime(2026, 3, 10, tzinfo=UTC)
PERIOD = (DAY, DAY + timedelta(days=1))


def at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def test_the_issues_example_faulted_90_minutes_30_of_them_a_utility_interruption() -> None:
    faulted = [(at(10), at(11.5))]
    utility = [Exclusion(1, at(11), at(12), "utility")]
    figures = uptime(PERIOD, faulted, utility)
    assert figures.period == timedelta(days=1)
    assert figures.outage == minutes(90)
    assert figures.nevi.excluded == minutes(30) and figures.cec.excluded == minutes(30)
    assert figures.nevi.uptime_percent == pytest.approx((1440 - 60) / 1440 * 100)
    assert figures.cec.uptime_percent == pytest.approx((1440 - 60) / 1440 * 100)


def test_a_year_is_the_rules_525600_minutes() -> None:
    year = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    outage = [(datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 6, 1, 10, tzinfo=UTC))]
    figures = uptime(year, outage, [])
    assert figures.period == minutes(525_600)
    assert figures.nevi.uptime_percent == pytest.approx((525_600 - 600) / 525_600 * 100)


def test_only_outage_inside_an_exclusion_is_excluded_and_overlaps_count_once() -> None:
    outage = [(at(1), at(2)), (at(5), at(6))]
    exclusions = [
        # covers the second half of the first outage, twice over, and up time around it
        Exclusion(1, at(1.5), at(3), "utility"),
        Exclusion(2, at(0), at(4), "natural_disaster"),
    ]
    figures = uptime(PERIOD, outage, exclusions)
    assert figures.outage == minutes(120)
    assert figures.nevi.excluded == minutes(60)
    assert figures.cec.excluded == minutes(60)


@pytest.mark.parametrize("reason", ["closed_hours", "vehicle_fault"])
def test_closed_hours_and_vehicle_faults_are_excluded_by_nevi_but_not_by_the_cec(
    reason: str,
) -> None:
    # 23 CFR 680.116(b)(3) excludes both; the CEC excludes only grid power loss, natural
    # disasters, vandalism and planned maintenance.
    figures = uptime(PERIOD, [(at(0), at(6))], [Exclusion(1, at(0), at(6), reason)])
    assert figures.nevi.excluded == minutes(360)
    assert figures.nevi.uptime_percent == 100
    assert figures.cec.excluded == timedelta(0)
    assert figures.cec.uptime_percent == pytest.approx((1440 - 360) / 1440 * 100)


def test_the_cec_excludes_at_most_72_hours_of_maintenance_a_year() -> None:
    period = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    start = datetime(2026, 3, 2, tzinfo=UTC)
    outage = [(start, start + timedelta(hours=100))]
    maintenance = [Exclusion(1, start, start + timedelta(hours=100), "maintenance")]
    figures = uptime(period, outage, maintenance)
    assert figures.nevi.excluded == timedelta(hours=100)
    assert figures.cec.excluded == timedelta(hours=72)

    # 50 hours of it were used in February (before the period): 22 are left for March.
    february = datetime(2026, 2, 2, tzinfo=UTC)
    earlier = [(february, february + timedelta(hours=50))]
    earlier_maintenance = [Exclusion(2, february, february + timedelta(hours=50), "maintenance")]
    figures = uptime(
        period,
        earlier + outage,
        earlier_maintenance + maintenance,
        history_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert figures.outage == timedelta(hours=100)  # February's is outside the period
    assert figures.cec.excluded == timedelta(hours=22)
    assert figures.nevi.excluded == timedelta(hours=100)


def test_the_cec_maintenance_allowance_starts_again_on_january_1st() -> None:
    period = (datetime(2025, 12, 30, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC))
    start, end = datetime(2025, 12, 30, tzinfo=UTC), datetime(2026, 1, 2, 12, tzinfo=UTC)
    figures = uptime(period, [(start, end)], [Exclusion(1, start, end, "maintenance")])
    # 48 hours in 2025 (under its 72) and 36 hours in 2026 (under its 72)
    assert figures.cec.excluded == timedelta(hours=84)


def test_the_cec_excludes_at_most_10_days_per_incident_of_vandalism() -> None:
    period = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    first = datetime(2026, 3, 1, tzinfo=UTC)
    second = datetime(2026, 3, 20, tzinfo=UTC)
    outage = [(first, first + timedelta(days=12)), (second, second + timedelta(days=3))]
    vandalism = [
        Exclusion(1, first, first + timedelta(days=12), "vandalism"),
        Exclusion(2, second, second + timedelta(days=3), "vandalism"),
    ]
    figures = uptime(period, outage, vandalism)
    assert figures.nevi.excluded == timedelta(days=15)
    assert figures.cec.excluded == timedelta(days=13)


def test_an_uncapped_reason_is_charged_before_a_capped_one() -> None:
    # Vandalism and a utility outage at once: the utility outage takes it, so the incident's
    # 10 days are still there afterwards.
    period = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    start = datetime(2026, 3, 1, tzinfo=UTC)
    outage = [(start, start + timedelta(days=14))]
    exclusions = [
        Exclusion(1, start, start + timedelta(days=14), "vandalism"),
        Exclusion(2, start, start + timedelta(days=4), "utility"),
    ]
    figures = uptime(period, outage, exclusions)
    assert figures.cec.excluded == timedelta(days=14)


def test_an_empty_period_has_no_percentage() -> None:
    assert uptime((DAY, DAY), [], []).nevi.uptime_percent is None
    assert percent(timedelta(0), timedelta(0), timedelta(0)) is None


# ---- what makes a connector down ---------------------------------------------------------------
def test_a_status_holds_until_the_next_one() -> None:
    records = [
        StatusRecord(None, at(-5), "Available"),
        StatusRecord(None, at(10), "Faulted"),
        StatusRecord(None, at(11), "Unavailable"),
        StatusRecord(None, at(12), "Charging"),
        StatusRecord(None, at(20), "Faulted"),
    ]
    assert status_down(records, at(24)) == [(at(10), at(12)), (at(20), at(24))]


def test_a_queued_notification_counts_from_the_chargers_timestamp_but_a_clock_ahead_does_not() -> (
    None
):
    records = [
        StatusRecord(None, at(1), "Available"),
        # sent from the offline queue at 5:00, about a fault at 3:00
        StatusRecord(at(3), at(5), "Faulted"),
        # a clock an hour ahead: received at 6:00, counted at 6:00
        StatusRecord(at(7), at(6), "Available"),
        # a clock far behind: never before what was already counted
        StatusRecord(at(-30), at(8), "Faulted"),
    ]
    assert status_down(records, at(9)) == [(at(3), at(6)), (at(8), at(9))]


def test_a_station_is_offline_between_its_recorded_connections() -> None:
    day = (at(0), at(24))
    history = [(at(-5), at(2)), (at(4), at(10)), (at(9), at(12)), (at(20), None)]
    # 2-4 and 12-20 between connections (the overlap 9-10 of two connections is online once)
    assert connection_offline(history, at(-5), *day) == [(at(2), at(4)), (at(12), at(20))]
    # closed for good at 12:00: offline to the end of the period
    assert connection_offline(history[:3], at(-5), *day) == [(at(2), at(4)), (at(12), at(24))]
    # history from 4:00 on only: nothing before it is counted here
    assert connection_offline(history[1:], at(4), *day) == [(at(12), at(20))]


def test_a_silence_longer_than_the_threshold_is_offline_from_the_threshold_on() -> None:
    gaps = [(at(1), at(1.1)), (at(2), at(4))]
    assert silent_offline(gaps, minutes(10)) == [(at(2) + minutes(10), at(4))]
    assert silent_offline(gaps, timedelta(0)) == []


def test_merge() -> None:
    assert merge([(at(3), at(4)), (at(1), at(2)), (at(2), at(2.5)), (at(5), at(5))]) == [
        (at(1), at(2.5)),
        (at(3), at(4)),
    ]
