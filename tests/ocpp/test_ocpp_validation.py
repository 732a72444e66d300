"""Schema validation over the official 1.6 schemas and the OCPP-J code each failure maps to."""

from __future__ import annotations

from typing import Any

import pytest
from ocpp_testkit import example_payload, schema_actions

from kilowatt.ocpp import ErrorCode, OcppError, SchemaValidator
from kilowatt.ocpp import validation as validation_module

V = SchemaValidator()
OCCURENCE = ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION
TYPE = ErrorCode.TYPE_CONSTRAINT_VIOLATION
PROPERTY = ErrorCode.PROPERTY_CONSTRAINT_VIOLATION


def meter_values(timestamp: Any = "2026-01-01T00:00:00Z", **sample: Any) -> dict[str, Any]:
    return {
        "connectorId": 1,
        "meterValue": [{"timestamp": timestamp, "sampledValue": [{"value": "1", **sample}]}],
    }


def error_of(action: str, payload: dict[str, Any], *, response: bool = False) -> OcppError:
    with pytest.raises(OcppError) as info:
        if response:
            V.validate_response(action, payload)
        else:
            V.validate_request(action, payload)
    return info.value


@pytest.mark.parametrize("action", schema_actions())
def test_every_schema_accepts_its_examples(action: str) -> None:
    for full in (True, False):
        V.validate_request(action, example_payload(action, full=full))
        V.validate_response(action, example_payload(action, response=True, full=full))


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00.123+02:00",
        "2026-01-01T00:00:00.123456Z",
        "2026-01-01T00:00:00-05:30",
        "2026-01-01T00:00:00",  # no offset: accepted and read as UTC
    ],
)
def test_ocpp_timestamps_pass(timestamp: str) -> None:
    V.validate_request("MeterValues", meter_values(timestamp))


@pytest.mark.parametrize(
    "timestamp",
    ["garbage", "", "2026-01-01", "2026-13-01T00:00:00Z", "2026-01-01T25:00:00Z", "1767225600"],
)
def test_garbage_timestamps_fail(timestamp: str) -> None:
    err = error_of("MeterValues", meter_values(timestamp))
    assert err.code is PROPERTY
    assert "meterValue[0].timestamp" in err.description
    assert err.details["field"] == "meterValue[0].timestamp"


def test_missing_required_property_is_an_occurrence_violation_naming_the_field() -> None:
    err = error_of("BootNotification", {"chargePointVendor": "V"})
    assert err.code is OCCURENCE
    assert "chargePointModel" in err.description
    err = error_of(
        "MeterValues",
        {
            "connectorId": 1,
            "meterValue": [{"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{}]}],
        },
    )
    assert err.code is OCCURENCE
    assert err.details["field"] == "meterValue[0].sampledValue[0].value"


def test_empty_array_below_min_items_is_an_occurrence_violation() -> None:
    err = error_of("MeterValues", {"connectorId": 1, "meterValue": []})
    assert err.code is OCCURENCE
    assert "meterValue" in err.description


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"chargePointVendor": 1, "chargePointModel": "M"}, "chargePointVendor"),
        ({"chargePointVendor": None, "chargePointModel": "M"}, "chargePointVendor"),
        ({"chargePointVendor": ["V"], "chargePointModel": "M"}, "chargePointVendor"),
    ],
)
def test_wrong_json_type_is_a_type_violation(payload: dict[str, Any], field: str) -> None:
    err = error_of("BootNotification", payload)
    assert err.code is TYPE
    assert err.details["field"] == field


def test_boolean_is_not_an_integer() -> None:
    err = error_of(
        "StatusNotification", {"connectorId": True, "errorCode": "NoError", "status": "Available"}
    )
    assert err.code is TYPE


def test_string_number_is_a_type_violation() -> None:
    err = error_of("MeterValues", {"connectorId": "1", "meterValue": meter_values()["meterValue"]})
    assert err.code is TYPE
    assert err.details["field"] == "connectorId"


@pytest.mark.parametrize(
    ("action", "payload", "field"),
    [
        (
            "BootNotification",
            {"chargePointVendor": "V" * 21, "chargePointModel": "M"},
            "chargePointVendor",
        ),
        (
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"},
            "status",
        ),
        (
            "MeterValues",
            meter_values(measurand="Energy"),
            "meterValue[0].sampledValue[0].measurand",
        ),
        (
            "BootNotification",
            {"chargePointVendor": "V", "chargePointModel": "M", "colour": "red"},
            "colour",
        ),
        (
            "UpdateFirmware",
            {"location": "no uri", "retrieveDate": "2026-01-01T00:00:00Z"},
            "location",
        ),
    ],
)
def test_invalid_value_is_a_property_violation(
    action: str, payload: dict[str, Any], field: str
) -> None:
    err = error_of(action, payload)
    assert err.code is PROPERTY
    assert err.details["field"] == field
    assert field in err.description


def test_unknown_action_is_not_implemented() -> None:
    assert not V.knows("Foo")
    assert V.knows("BootNotification") and V.knows("SignedUpdateFirmware")
    assert error_of("Foo", {}).code is ErrorCode.NOT_IMPLEMENTED
    assert error_of("BootNotificationResponse", {}).code is ErrorCode.NOT_IMPLEMENTED


def test_responses_are_validated_against_the_conf_schema() -> None:
    V.validate_response("Heartbeat", {"currentTime": "2026-01-01T00:00:00Z"})
    err = error_of("Heartbeat", {}, response=True)
    assert err.code is OCCURENCE
    assert "Heartbeat.conf" in err.description


def test_errata_stop_transaction_reason_optional_and_both_celsius_spellings() -> None:
    # OCPP-J 1.6 errata §2.6 (reason optional) and §2.1 (Celsius and Celcius both accepted).
    stop = {"transactionId": 1, "timestamp": "2026-01-01T00:00:00Z", "meterStop": 10}
    V.validate_request("StopTransaction", stop)
    for unit in ("Celsius", "Celcius"):
        V.validate_request("MeterValues", meter_values(unit=unit))
        sample = {
            "timestamp": "2026-01-01T00:00:00Z",
            "sampledValue": [{"value": "20", "unit": unit}],
        }
        V.validate_request("StopTransaction", {**stop, "transactionData": [sample]})


def test_validators_are_compiled_once_and_shared() -> None:
    V.validate_request("Authorize", {"idTag": "A"})
    compiled = validation_module._validators[("1.6", False)]["Authorize"]
    SchemaValidator().validate_request("Authorize", {"idTag": "B"})
    assert validation_module._validators[("1.6", False)]["Authorize"] is compiled


def test_other_versions_load_from_the_ocpp_package() -> None:
    v201 = SchemaValidator("2.0.1")
    assert v201.knows("TransactionEvent") and not v201.knows("StartTransaction")
    with pytest.raises(ValueError):
        SchemaValidator("1.5")


def test_preload_compiles_every_schema() -> None:
    SchemaValidator().preload()
    assert set(validation_module._validators[("1.6", False)]) == set(schema_actions())
    assert set(validation_module._validators[("1.6", True)]) == set(schema_actions())
