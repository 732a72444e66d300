"""Site load management: the allocator's worked examples, then properties."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kilowatt.smart_charging.allocation import (
    PHASES,
    Allocation,
    FixedDraw,
    Session,
    SiteLimit,
    allocate,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
D = Decimal
THREE = (1, 2, 3)


def car(
    id: str,
    phases: tuple[int, ...] = THREE,
    *,
    minimum: str = "6",
    maximum: str = "32",
    minute: int = 0,
    priority: int = 1,
) -> Session:
    return Session(id, phases, D(minimum), D(maximum), T0 + timedelta(minutes=minute), priority)


def test_six_three_phase_cars_share_63_a_equally() -> None:
    result = allocate(SiteLimit.uniform(D(63)), [car(f"s{i}", minute=i) for i in range(6)])
    assert set(result.currents.values()) == {D("10.5")}
    assert not result.paused
    assert result.load == {1: D(63), 2: D(63), 3: D(63)}


def test_below_the_limit_everyone_gets_their_maximum() -> None:
    result = allocate(SiteLimit.uniform(D(63)), [car("a", maximum="16"), car("b", maximum="16")])
    assert result.currents == {"a": D(16), "b": D(16)}


def test_single_phase_cars_on_l1_with_three_phase_cars() -> None:
    sessions = [
        car("p1", (1,)),
        car("p2", (1,), minute=1),
        car("t1", minute=2),
        car("t2", minute=3),
    ]
    result = allocate(SiteLimit.uniform(D(40)), sessions)
    # L1 is shared by four: 10 A each; the three-phase cars are held by L1, L2/L3 keep 20 A.
    assert result.currents == {"p1": D(10), "p2": D(10), "t1": D(10), "t2": D(10)}
    assert result.load == {1: D(40), 2: D(20), 3: D(20)}


def test_single_phase_car_takes_what_a_capped_three_phase_car_leaves() -> None:
    sessions = [car("p1", (1,)), car("t1", maximum="16", minute=1)]
    result = allocate(SiteLimit.uniform(D(40)), sessions)
    assert result.currents == {"p1": D(24), "t1": D(16)}


def test_fixed_offline_draw_is_subtracted_first() -> None:
    offline = FixedDraw("offline", {1: D(16), 2: D(16), 3: D(16)})
    result = allocate(SiteLimit.uniform(D(63)), [car("a"), car("b", minute=1)], [offline])
    assert result.currents == {"a": D("23.5"), "b": D("23.5")}
    assert result.load == {1: D(63), 2: D(63), 3: D(63)}


def test_fixed_draws_over_the_limit_leave_no_room_on_that_phase() -> None:
    offline = FixedDraw("offline", {1: D(70)})
    sessions = [car("t1"), car("p1", (1,), minute=1), car("p2", (2,), minute=2)]
    result = allocate(SiteLimit.uniform(D(63)), sessions, [offline])
    assert result.paused == {"t1", "p1"}
    assert result.currents == {"t1": D(0), "p1": D(0), "p2": D(32)}


def test_minimums_not_fitting_pause_the_most_recently_started() -> None:
    # 20 A / 3 = 6.66..: rounded down, the freed 0.1 A steps go to the earliest started
    sessions = [car(f"s{i}", minute=i) for i in range(5)]
    result = allocate(SiteLimit.uniform(D(20)), sessions)
    assert result.paused == {"s3", "s4"}
    assert result.currents == {"s0": D("6.7"), "s1": D("6.7"), "s2": D("6.6"), "s3": 0, "s4": 0}


def test_minimums_not_fitting_pause_low_priority_before_late_starters() -> None:
    sessions = [car("early", minute=0), car("vip", minute=9, priority=2), car("late", minute=5)]
    result = allocate(SiteLimit.uniform(D(13)), sessions)
    assert result.paused == {"late"}
    assert result.currents["vip"] > 0 and result.currents["early"] > 0


def test_a_paused_car_does_not_block_a_single_phase_car_that_fits() -> None:
    offline = FixedDraw("offline", {1: D(6), 2: D(6)})
    sessions = [car("t1"), car("t2", minute=1), car("p3", (3,), minute=2)]
    result = allocate(SiteLimit.uniform(D(16)), sessions, [offline])
    assert result.paused == {"t2"}
    # L3 (16 A) fills first, at 8 A each; L1/L2 keep 2 A the three-phase car cannot use
    assert result.currents == {"t1": D(8), "t2": D(0), "p3": D(8)}


def test_priorities_weight_the_share() -> None:
    sessions = [car("vip", priority=2), car("a", minute=1), car("b", minute=2)]
    result = allocate(SiteLimit.uniform(D(40)), sessions)
    assert result.currents == {"vip": D(20), "a": D(10), "b": D(10)}


def test_from_kw_uses_230_v_per_phase() -> None:
    assert SiteLimit.from_kw(D("43.47")) == SiteLimit.uniform(D(63))
    assert SiteLimit.from_kw(D(11), voltage=D(220)) == SiteLimit.uniform(D("16.6"))


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        car("x", minimum="10", maximum="6")
    with pytest.raises(ValueError):
        car("x", (4,))
    with pytest.raises(ValueError):
        car("x", minimum="6.05")
    with pytest.raises(ValueError):
        allocate(SiteLimit.uniform(D(63)), [car("x"), car("x")])
    with pytest.raises(ValueError):
        FixedDraw("f", {4: D(1)})
    with pytest.raises(ValueError):
        FixedDraw("f", {1: D(-1)})


# --- properties ---------------------------------------------------------------------------

tenths = st.integers(min_value=0, max_value=400).map(lambda n: D(n) / 10)


@st.composite
def sessions(draw: st.DrawFn) -> Session:
    phases = draw(st.sampled_from([THREE, (1,), (2,), (3,), (1, 2)]))
    low = draw(st.sampled_from([D(0), D(6), D(6), D("8.5"), D(10)]))
    high = low + draw(st.integers(min_value=0, max_value=300).map(lambda n: D(n) / 10))
    return Session(
        id=f"s{draw(st.integers(min_value=0, max_value=10**6))}",
        phases=phases,
        min_current=low,
        max_current=high,
        started_at=T0 + timedelta(seconds=draw(st.integers(min_value=0, max_value=5))),
        priority=draw(st.integers(min_value=1, max_value=3)),
    )


fixed_draws = st.lists(
    st.builds(
        FixedDraw,
        id=st.just("f"),
        draw=st.dictionaries(st.sampled_from(PHASES), tenths.map(lambda a: a / 4), max_size=3),
    ),
    max_size=2,
)
limits = st.builds(SiteLimit, tenths.map(lambda a: a * 3), tenths, tenths)
sites = st.lists(sessions(), max_size=8, unique_by=lambda s: s.id)


def used(result: Allocation, ss: list[Session], fixed: list[FixedDraw], phase: int) -> Decimal:
    return sum((f.on(phase) for f in fixed), D(0)) + sum(
        (result.currents[s.id] for s in ss if phase in s.phases), D(0)
    )


@settings(max_examples=300, deadline=None)
@given(limits, sites, fixed_draws)
def test_properties(limit: SiteLimit, ss: list[Session], fixed: list[FixedDraw]) -> None:
    result = allocate(limit, ss, fixed)
    assert set(result.currents) == {s.id for s in ss}
    room = {p: limit.on(p) - used(result, [], fixed, p) for p in PHASES}
    headroom = {p: limit.on(p) - used(result, ss, fixed, p) for p in PHASES}
    for p in PHASES:
        if room[p] >= 0:  # the fixed draws alone fit: never exceed the limit
            assert headroom[p] >= 0
        assert result.load[p] == used(result, ss, fixed, p)
    for s in ss:
        current = result.currents[s.id]
        assert current.as_tuple().exponent >= -1
        if current == 0 and s.min_current > 0:
            assert s.id in result.paused
        else:
            assert s.min_current <= current <= s.max_current
        if s.id in result.paused:
            # paused only for want of room: its minimum does not fit on some phase
            assert current == 0 and any(headroom[p] < s.min_current for p in s.phases)
        elif current < s.max_current:
            # water-filling is maximal (to 0.1 A): some phase of s has no 0.1 A left, and on
            # one such phase nobody has a larger share (weighted by priority) than s, unless
            # held at their minimum (max-min fairness, within the 0.1 A rounding)
            assert any(
                headroom[p] < D("0.1")
                and all(
                    result.currents[r.id]
                    <= max(r.min_current, r.priority * (current + D("0.1")) / s.priority) + D("0.1")
                    for r in ss
                    if p in r.phases
                )
                for p in s.phases
            )
    minimums_fit = all(
        sum((s.min_current for s in ss if p in s.phases), D(0)) <= room[p] for p in PHASES
    )
    if minimums_fit:
        assert not result.paused
    shuffled = list(ss)
    random.Random(len(ss)).shuffle(shuffled)
    assert allocate(limit, shuffled, list(reversed(fixed))) == result


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=8), tenths)
def test_equal_sessions_get_equal_shares(n: int, amps: Decimal) -> None:
    ss = [car(f"s{i}", minimum="0", maximum="32", minute=i) for i in range(n)]
    currents = allocate(SiteLimit.uniform(amps), ss).currents.values()
    assert max(currents) - min(currents) <= D("0.1")
