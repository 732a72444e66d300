"""Normalisation of OCPP 1.6 sampled values (OCPP 1.6 §7.45 SampledValue, §7.47 UnitOfMeasure)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kilowatt.transactions.metering import normalise

T = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "measurand", "unit", "expected", "expected_unit"),
    [
        (
            "1234",
            None,
            None,
            Decimal(1234),
            "Wh",
        ),  # the defaults: Energy.Active.Import.Register in Wh
        ("12.3456", "Energy.Active.Import.Register", "kWh", Decimal(12346), "Wh"),
        ("7.4", "Power.Active.Import", "kW", Decimal(7400), "W"),
        ("7400.6", "Power.Active.Import", "W", Decimal(7401), "W"),
        ("16.04", "Current.Import", "A", Decimal("16.040"), "A"),
        ("230.1", "Voltage", "V", Decimal("230.100"), "V"),
        ("80", "SoC", "Percent", Decimal("80.000"), "%"),
        ("25.5", "Temperature", "Celsius", Decimal("25.500"), "Celsius"),
        ("77", "Temperature", "Fahrenheit", Decimal("25.000"), "Celsius"),
        ("300.15", "Temperature", "K", Decimal("27.000"), "Celsius"),
        ("2", "Energy.Reactive.Import.Register", "kvarh", Decimal(2000), "varh"),
        ("16", "Current.Offered", None, Decimal("16.000"), "A"),
        ("55", "SoC", None, Decimal("55.000"), "%"),
    ],
)
def test_units_are_normalised(
    value: str, measurand: str | None, unit: str | None, expected: Decimal, expected_unit: str
) -> None:
    sample = normalise(timestamp=T, value=value, measurand=measurand, unit=unit)
    assert (sample.value, sample.unit) == (expected, expected_unit)
    assert sample.raw_value == value and sample.raw_unit == unit


@pytest.mark.parametrize("value", ["abc", "", "NaN", "Infinity"])
def test_non_numeric_values_are_kept_raw(value: str) -> None:
    sample = normalise(timestamp=T, value=value, measurand="Voltage", unit="V")
    assert sample.value is None and sample.raw_value == value


def test_signed_data_is_kept_raw() -> None:
    sample = normalise(
        timestamp=T,
        value="AP;0;3;ALCV3ABBBISHMA2RYEGAZE3HV5YQBQRQAEHAR",
        measurand=None,
        unit=None,
        format="SignedData",
    )
    assert sample.value is None and sample.format == "SignedData"


def test_only_the_outlet_total_import_register_counts_as_the_energy_register() -> None:
    assert normalise(timestamp=T, value="10", measurand=None, unit=None).is_energy_register
    assert not normalise(
        timestamp=T, value="10", measurand=None, unit=None, phase="L1"
    ).is_energy_register
    assert not normalise(
        timestamp=T, value="10", measurand=None, unit=None, location="EV"
    ).is_energy_register
