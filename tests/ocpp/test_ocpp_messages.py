"""Typed 1.6 payloads: coverage of every action, round trips, datetimes, Decimals, enums."""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from ocpp_testkit import example_payload, schema_actions

import kilowatt.ocpp.v16.enums as our_enums
from kilowatt.ocpp import ErrorCode, OcppError, SchemaValidator
from kilowatt.ocpp.v16 import (
    CENTRAL_SYSTEM_TO_CHARGE_POINT,
    CHARGE_POINT_TO_CENTRAL_SYSTEM,
    REQUESTS,
    RESPONSES,
    decode_request,
    decode_response,
    encode,
)
from kilowatt.ocpp.v16 import messages as m
from kilowatt.ocpp.v16.enums import (
    ChargePointStatus,
    ChargingRateUnitType,
    Measurand,
    RegistrationStatus,
    UnitOfMeasure,
)

ACTIONS = schema_actions()
REPO = Path(__file__).resolve().parents[2]


def test_every_schema_action_has_a_request_and_a_response_struct() -> None:
    assert len(ACTIONS) == 39
    assert sorted(REQUESTS) == ACTIONS
    assert sorted(RESPONSES) == ACTIONS
    for action in ACTIONS:
        assert REQUESTS[action].__name__ == f"{action}Request"
        assert RESPONSES[action].__name__ == f"{action}Response"


def test_every_action_has_one_direction_except_data_transfer() -> None:
    # DataTransfer is the one action both parties may initiate (OCPP 1.6 §4.3 and §5.6).
    assert set(ACTIONS) == CHARGE_POINT_TO_CENTRAL_SYSTEM | CENTRAL_SYSTEM_TO_CHARGE_POINT
    assert {"DataTransfer"} == CHARGE_POINT_TO_CENTRAL_SYSTEM & CENTRAL_SYSTEM_TO_CHARGE_POINT
    for action in set(ACTIONS) - {"DataTransfer"}:
        in_cp = action in CHARGE_POINT_TO_CENTRAL_SYSTEM
        in_cs = action in CENTRAL_SYSTEM_TO_CHARGE_POINT
        assert in_cp != in_cs, action


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("full", [True, False], ids=["all-fields", "required-only"])
def test_round_trip(action: str, full: bool) -> None:
    validator = SchemaValidator()
    request = example_payload(action, full=full)
    response = example_payload(action, response=True, full=full)
    typed_request = decode_request(action, request)
    typed_response = decode_response(action, response)
    assert type(typed_request) is REQUESTS[action]
    assert type(typed_response) is RESPONSES[action]
    assert encode(typed_request) == request
    assert encode(typed_response) == response
    validator.validate_request(action, encode(typed_request))
    validator.validate_response(action, encode(typed_response))


def test_decoded_datetimes_are_aware_utc() -> None:
    def stamp(text: str) -> datetime:
        payload = {
            "connectorId": 1,
            "meterValue": [{"timestamp": text, "sampledValue": [{"value": "1"}]}],
        }
        request = decode_request("MeterValues", payload)
        assert isinstance(request, m.MeterValuesRequest)
        timestamp: datetime = request.meter_value[0].timestamp
        return timestamp

    expected = datetime(2026, 1, 1, tzinfo=UTC)
    for text in ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00", "2026-01-01T02:00:00+02:00"):
        value = stamp(text)
        assert value == expected
        assert value.tzinfo is UTC
    assert stamp("2026-01-01T00:00:00.123+02:00") == datetime(
        2025, 12, 31, 22, 0, 0, 123000, tzinfo=UTC
    )


def test_structs_built_in_code_are_normalised_to_utc_too() -> None:
    local = datetime(2026, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1)))
    assert m.HeartbeatResponse(current_time=local).current_time.tzinfo is UTC
    naive = m.HeartbeatResponse(current_time=datetime(2026, 1, 1))
    assert encode(naive) == {"currentTime": "2026-01-01T00:00:00Z"}


def test_numbers_decode_as_decimal_and_encode_as_json_numbers() -> None:
    payload = {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "minChargingRate": 6,
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.1}],
            },
        },
    }
    request = decode_request("SetChargingProfile", payload)
    assert isinstance(request, m.SetChargingProfileRequest)
    schedule = request.cs_charging_profiles.charging_schedule
    assert schedule.charging_schedule_period[0].limit == Decimal("16.1")
    assert type(schedule.charging_schedule_period[0].limit) is Decimal
    assert type(schedule.min_charging_rate) is Decimal
    assert schedule.charging_rate_unit is ChargingRateUnitType.AMPS
    assert encode(request) == payload
    assert isinstance(
        encode(request)["csChargingProfiles"]["chargingSchedule"]["minChargingRate"], int
    )


def test_enums_decode_to_their_classes() -> None:
    status = decode_request(
        "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "SuspendedEV"}
    )
    assert isinstance(status, m.StatusNotificationRequest)
    assert status.status is ChargePointStatus.SUSPENDED_EV
    boot = decode_response(
        "BootNotification",
        {"status": "Pending", "currentTime": "2026-01-01T00:00:00Z", "interval": 60},
    )
    assert isinstance(boot, m.BootNotificationResponse)
    assert boot.status is RegistrationStatus.PENDING


def test_enum_names_follow_the_ocpp_package() -> None:
    assert Measurand.ENERGY_ACTIVE_IMPORT_REGISTER == "Energy.Active.Import.Register"
    assert ChargePointStatus.SUSPENDED_EV == "SuspendedEV"
    assert {UnitOfMeasure.CELSIUS.value, UnitOfMeasure.CELCIUS.value} == {"Celsius", "Celcius"}
    import ocpp.v16.enums as theirs

    ours = {n for n in dir(our_enums) if not n.startswith("_") and n != "StrEnum"}
    assert ours <= set(dir(theirs)), ours - set(dir(theirs))


def test_nested_structs_are_named_and_shared() -> None:
    assert set(m.StartTransactionResponse.__struct_fields__) == {"transaction_id", "id_tag_info"}
    for name in (
        "IdTagInfo",
        "MeterValue",
        "SampledValue",
        "ChargingProfile",
        "ChargingSchedule",
        "ChargingSchedulePeriod",
        "KeyValue",
        "AuthorizationData",
        "CertificateHashData",
    ):
        assert hasattr(m, name), name
    stop = decode_request("StopTransaction", example_payload("StopTransaction"))
    assert isinstance(stop, m.StopTransactionRequest)
    assert stop.transaction_data is not None and isinstance(stop.transaction_data[0], m.MeterValue)


def test_encode_leaves_out_none() -> None:
    assert encode(
        m.AuthorizeResponse(id_tag_info=m.IdTagInfo(status=our_enums.AuthorizationStatus.ACCEPTED))
    ) == {"idTagInfo": {"status": "Accepted"}}


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({}, ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION),
        ({"idTag": 5}, ErrorCode.TYPE_CONSTRAINT_VIOLATION),
    ],
)
def test_decode_without_validation_still_maps_errors(
    payload: dict[str, object], code: ErrorCode
) -> None:
    with pytest.raises(OcppError) as info:
        decode_request("Authorize", payload)
    assert info.value.code is code
    with pytest.raises(OcppError) as info:
        decode_request("Nope", {})
    assert info.value.code is ErrorCode.NOT_IMPLEMENTED


def test_generated_modules_are_up_to_date(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("gen_ocpp16", REPO / "tools" / "gen_ocpp16.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    sys.modules["gen_ocpp16"] = gen
    try:
        spec.loader.exec_module(gen)
        gen.generate(tmp_path)
    finally:
        del sys.modules["gen_ocpp16"]
    for name in ("enums.py", "messages.py"):
        fresh = (tmp_path / name).read_text(encoding="utf-8")
        committed = (REPO / "src" / "kilowatt" / "ocpp" / "v16" / name).read_text(encoding="utf-8")
        assert fresh == committed, f"{name} is stale: run tools/gen_ocpp16.py"
        assert fresh.startswith("# generated by tools/gen_ocpp16.py, do not edit\n")


def test_structs_are_msgspec_structs_with_the_wire_config() -> None:
    for cls in (*REQUESTS.values(), *RESPONSES.values()):
        config = cls.__struct_config__
        assert config.omit_defaults and config.frozen
        for f in msgspec.structs.fields(cls):
            assert f.encode_name[0].islower() and "_" not in f.encode_name
