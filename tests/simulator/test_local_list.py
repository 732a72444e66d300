"""The simulated charger's Local Authorization List (OCPP 1.6 §3.5, §5.10, §5.15): version,
Full and Differential updates, limits, and local authorization offline and pre-authorize."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sim_csms import MockCsms
from simkit import booted, within

from kilowatt.ocpp.v16.enums import AuthorizationStatus, UpdateStatus, UpdateType
from kilowatt.ocpp.v16.messages import (
    AuthorizationData,
    GetLocalListVersionRequest,
    GetLocalListVersionResponse,
    IdTagInfo,
    SendLocalListRequest,
    SendLocalListResponse,
)

ACCEPTED, BLOCKED = AuthorizationStatus.ACCEPTED, AuthorizationStatus.BLOCKED


def entry(id_tag: str, status: AuthorizationStatus | None = ACCEPTED, **info: object) -> Any:
    if status is None:
        return AuthorizationData(id_tag=id_tag)  # a Differential's delete
    return AuthorizationData(id_tag=id_tag, id_tag_info=IdTagInfo(status=status, **info))


async def send(
    csms: MockCsms, kind: UpdateType, version: int, *entries: AuthorizationData
) -> UpdateStatus:
    request = SendLocalListRequest(
        list_version=version, update_type=kind, local_authorization_list=list(entries)
    )
    answer = await within(csms.call("CP1", "SendLocalList", request))
    assert isinstance(answer, SendLocalListResponse)
    return answer.status


async def version(csms: MockCsms) -> int:
    answer = await within(csms.call("CP1", "GetLocalListVersion", GetLocalListVersionRequest()))
    assert isinstance(answer, GetLocalListVersionResponse)
    return answer.list_version


async def test_full_and_differential_updates_and_the_version() -> None:
    async with MockCsms() as csms, booted(csms) as station:
        assert await version(csms) == 0  # empty list
        full = UpdateType.FULL
        assert await send(csms, full, 3, entry("A"), entry("B", BLOCKED)) is UpdateStatus.ACCEPTED
        assert await version(csms) == 3
        diff = UpdateType.DIFFERENTIAL
        # Not above the current version: VersionMismatch, nothing changes.
        assert await send(csms, diff, 3, entry("C")) is UpdateStatus.VERSION_MISMATCH
        assert await send(csms, diff, 4, entry("C"), entry("A", None)) is UpdateStatus.ACCEPTED
        assert await version(csms) == 4
        assert set(station.local_list.entries) == {"B", "C"}
        assert station.local_list.lookup("B") is BLOCKED and station.local_list.lookup("A") is None
        # A Full list replaces everything; an empty one empties it (version 0 again).
        assert await send(csms, full, 5) is UpdateStatus.ACCEPTED
        assert await version(csms) == 0 and station.local_list.entries == {}


async def test_failed_beyond_local_auth_list_max_length_and_without_id_tag_info() -> None:
    async with MockCsms() as csms, booted(csms) as station:
        station.configuration.set("LocalAuthListMaxLength", "2")
        many = [entry(f"T{i}") for i in range(3)]
        assert await send(csms, UpdateType.FULL, 1, *many) is UpdateStatus.FAILED
        assert await send(csms, UpdateType.FULL, 1, *many[:2]) is UpdateStatus.ACCEPTED
        assert await send(csms, UpdateType.DIFFERENTIAL, 2, many[2]) is UpdateStatus.FAILED
        assert await send(csms, UpdateType.FULL, 3, entry("X", None)) is UpdateStatus.FAILED
        assert await version(csms) == 1 and set(station.local_list.entries) == {"T0", "T1"}


async def test_without_the_profile_it_answers_minus_one_and_not_supported() -> None:
    async with MockCsms() as csms, booted(csms) as station:
        station.configuration.set("SupportedFeatureProfiles", "Core,RemoteTrigger")
        assert await version(csms) == -1
        assert await send(csms, UpdateType.FULL, 1, entry("A")) is UpdateStatus.NOT_SUPPORTED
        assert station.local_list.entries == {}


async def test_an_accepted_tag_on_the_list_starts_offline() -> None:
    async with (
        MockCsms(rejected_tags=frozenset({"LOCAL"})) as csms,
        booted(csms, meter_interval=0.05) as station,
    ):
        station.configuration.set("LocalAuthorizeOffline", "true")
        past = datetime.now(UTC) - timedelta(days=1)
        sent = await send(
            csms,
            UpdateType.FULL,
            1,
            entry("LOCAL"),
            entry("BLOCKED", BLOCKED),
            entry("OLD", ACCEPTED, expiry_date=past),
        )
        assert sent is UpdateStatus.ACCEPTED
        # Online, without LocalPreAuthorize, the CSMS decides (and here it says Invalid).
        assert await within(station.swipe(1, "LOCAL")) is AuthorizationStatus.INVALID

        csms.refuse = True
        csms.drop("CP1")
        await within(station.wait_until(lambda: not station.online))
        assert await within(station.swipe(2, "BLOCKED")) is BLOCKED
        assert await within(station.swipe(2, "OLD")) is AuthorizationStatus.EXPIRED
        await within(station.plug_in(1))
        assert await within(station.swipe(1, "LOCAL")) is ACCEPTED
        assert station.connector(1).transaction is not None  # charging, offline
        assert station.transaction_id(1) is None
        authorizes = len(csms.calls("CP1", "Authorize"))

        csms.refuse = False
        await within(station.wait_until(lambda: station.transaction_id(1) is not None), 10)
        assert len(csms.calls("CP1", "Authorize")) == authorizes  # none sent for the offline start


async def test_local_pre_authorize_skips_the_authorize_request() -> None:
    async with MockCsms() as csms, booted(csms) as station:
        station.configuration.set("LocalPreAuthorize", "true")
        assert await send(csms, UpdateType.FULL, 1, entry("FAST")) is UpdateStatus.ACCEPTED
        assert await within(station.swipe(1, "FAST")) is ACCEPTED
        assert await within(station.swipe(1, "OTHER")) is ACCEPTED  # not on the list: asked
        assert [r.payload.id_tag for r in csms.calls("CP1", "Authorize")] == ["OTHER"]
