"""The station's configuration keys (OCPP 1.6 §9): values, read-only flags, value checks."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kilowatt.ocpp.v16.enums import ConfigurationStatus
from kilowatt.ocpp.v16.messages import KeyValue

from .meter import parse_measurands
from .phases import parse_rotations, rotation_key

__all__ = ["Configuration", "KeySpec", "core_keys"]

#: Normalises a value, or raises ValueError when the station would reject it.
Check = Callable[[str], str]


def _boolean(value: str) -> str:
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise ValueError("not a boolean")
    return lowered


def _integer(minimum: int = 0) -> Check:
    def check(value: str) -> str:
        number = int(value.strip())  # ValueError for "1.5", "ten", ""
        if number < minimum:
            raise ValueError(f"below {minimum}")
        return str(number)

    return check


def _measurands(value: str) -> str:
    parse_measurands(value)
    return value.strip()


def _phase_rotation(value: str) -> str:
    parse_rotations(value)
    return value.strip()


@dataclass(frozen=True, slots=True)
class KeySpec:
    name: str
    readonly: bool
    check: Check | None = None


def _number(value: float) -> str:
    # Integer keys hold integers; a fractional interval only comes from a test configuration.
    return str(int(value)) if float(value).is_integer() else str(value)


def core_keys(
    *,
    connectors: int,
    dc: bool,
    sample_interval: float,
    heartbeat_interval: float,
    sampled_data: str,
    phase_rotation: tuple[str, ...] = (),
) -> list[tuple[KeySpec, str]]:
    """A realistic Core + RemoteTrigger + FirmwareManagement key set with initial values;
    ``phase_rotation`` wires connectors 1, 2, … (the rest RST, see phases.py)."""
    rw = False
    return [
        (KeySpec("AllowOfflineTxForUnknownId", rw, _boolean), "false"),
        (KeySpec("AuthorizationCacheEnabled", rw, _boolean), "false"),
        (KeySpec("AuthorizeRemoteTxRequests", rw, _boolean), "true"),
        (KeySpec("ClockAlignedDataInterval", rw, _integer()), "0"),
        (KeySpec("ConnectionTimeOut", rw, _integer()), "60"),
        (
            KeySpec("ConnectorPhaseRotation", rw, _phase_rotation),
            rotation_key(connectors, phase_rotation, dc=dc),
        ),
        (KeySpec("GetConfigurationMaxKeys", True), "50"),
        (KeySpec("HeartbeatInterval", rw, _integer(1)), _number(heartbeat_interval)),
        (KeySpec("LocalAuthListEnabled", rw, _boolean), "true"),
        (KeySpec("LocalAuthListMaxLength", True), "100"),
        (KeySpec("LocalAuthorizeOffline", rw, _boolean), "false"),
        (KeySpec("LocalPreAuthorize", rw, _boolean), "false"),
        (KeySpec("MeterValuesAlignedData", rw, _measurands), "Energy.Active.Import.Register"),
        (KeySpec("MeterValuesAlignedDataMaxLength", True), "10"),
        (KeySpec("MeterValuesSampledData", rw, _measurands), sampled_data),
        (KeySpec("MeterValuesSampledDataMaxLength", True), "10"),
        (KeySpec("MeterValueSampleInterval", rw, _integer()), _number(sample_interval)),
        (KeySpec("MinimumStatusDuration", rw, _integer()), "0"),
        (KeySpec("NumberOfConnectors", True), str(connectors)),
        (KeySpec("ReserveConnectorZeroSupported", rw, _boolean), "true"),
        (KeySpec("ResetRetries", rw, _integer()), "3"),
        (KeySpec("SendLocalListMaxLength", True), "20"),
        (KeySpec("StopTransactionOnEVSideDisconnect", rw, _boolean), "true"),
        (KeySpec("StopTransactionOnInvalidId", rw, _boolean), "true"),
        (KeySpec("StopTxnAlignedData", rw, _measurands), ""),
        (KeySpec("StopTxnAlignedDataMaxLength", True), "10"),
        (KeySpec("StopTxnSampledData", rw, _measurands), "Energy.Active.Import.Register"),
        (KeySpec("StopTxnSampledDataMaxLength", True), "10"),
        (
            KeySpec("SupportedFeatureProfiles", True),
            "Core,FirmwareManagement,LocalAuthListManagement,RemoteTrigger,Reservation",
        ),
        (KeySpec("TransactionMessageAttempts", rw, _integer(1)), "3"),
        (KeySpec("TransactionMessageRetryInterval", rw, _integer()), "60"),
        (KeySpec("UnlockConnectorOnEVSideDisconnect", rw, _boolean), "true"),
        (KeySpec("WebSocketPingInterval", rw, _integer()), "0"),
    ]


class Configuration:
    """Key/value store with OCPP semantics: keys are case-insensitive (CiString50)."""

    __slots__ = ("_specs", "_values")

    def __init__(self, keys: Iterable[tuple[KeySpec, str]]) -> None:
        self._specs: dict[str, KeySpec] = {}
        self._values: dict[str, str] = {}
        for spec, value in keys:
            self._specs[spec.name.lower()] = spec
            self._values[spec.name.lower()] = value

    def add(self, keys: Iterable[tuple[KeySpec, str]]) -> None:
        """More keys (a feature profile's), with their initial values."""
        for spec, value in keys:
            self._specs[spec.name.lower()] = spec
            self._values[spec.name.lower()] = value

    def __contains__(self, key: str) -> bool:
        return key.lower() in self._specs

    def __getitem__(self, key: str) -> str:
        return self._values[key.lower()]

    def as_dict(self) -> dict[str, str]:
        return {spec.name: self._values[k] for k, spec in self._specs.items()}

    def get_bool(self, key: str) -> bool:
        return self[key] == "true"

    def get_float(self, key: str) -> float:
        return float(self[key])

    def set(self, key: str, value: str) -> None:
        """Set a value from inside the station (read-only keys too), unchecked."""
        self._values[key.lower()] = value

    def change(self, key: str, value: str) -> ConfigurationStatus:
        """ChangeConfiguration.req: NotSupported for unknown keys, Rejected for read-only keys
        and invalid values, else Accepted with the (normalised) value stored."""
        spec = self._specs.get(key.lower())
        if spec is None:
            return ConfigurationStatus.NOT_SUPPORTED
        if spec.readonly:
            return ConfigurationStatus.REJECTED
        if spec.check is not None:
            try:
                value = spec.check(value)
            except ValueError:
                return ConfigurationStatus.REJECTED
        self._values[key.lower()] = value
        return ConfigurationStatus.ACCEPTED

    def key_values(self, keys: Iterable[str] | None = None) -> tuple[list[KeyValue], list[str]]:
        """GetConfiguration.req: (known keys with values, unknown keys)."""
        if keys is None:
            names = list(self._specs)
            unknown: list[str] = []
        else:
            names = []
            unknown = []
            for key in keys:
                (names if key.lower() in self._specs else unknown).append(key)
        found = [
            KeyValue(
                key=self._specs[n.lower()].name,
                readonly=self._specs[n.lower()].readonly,
                value=self._values[n.lower()],
            )
            for n in names
        ]
        return found, unknown
