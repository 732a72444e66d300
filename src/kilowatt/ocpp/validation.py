"""Compiled JSON-schema validators over the official OCPP schemas (shipped by the `ocpp` package).

Each (version, action, request|response) schema is compiled with fastjsonschema on first use and
cached for the life of the process, shared by every SchemaValidator. Failures become OcppError
with the OCPP-J error code of docs/ocpp-core.md ("Schema failures") and the offending field path.
"""

from __future__ import annotations

import importlib.resources
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import fastjsonschema
import msgspec
import orjson

from .rpc import ErrorCode, OcppError

__all__ = ["SUPPORTED_VERSIONS", "SchemaValidator", "is_ocpp_datetime"]

# version -> (package holding schemas/, request file suffix, response file suffix)
_LAYOUT: dict[str, tuple[str, str, str]] = {
    "1.6": ("ocpp.v16", "", "Response"),
    "2.0.1": ("ocpp.v201", "Request", "Response"),
    "2.1": ("ocpp.v21", "Request", "Response"),
}
SUPPORTED_VERSIONS = frozenset(_LAYOUT)

Validate = Callable[[dict[str, Any]], Any]

# JSON-schema keyword that failed -> OCPP-J 1.6 §4.2.3 Table 7 error code.
_RULE_CODES: dict[str, ErrorCode] = {
    "required": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "minItems": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "maxItems": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "type": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
}


def is_ocpp_datetime(value: str) -> bool:
    """The "date-time" format: RFC 3339, offset optional (read as UTC), as msgspec decodes it.

    Using the decoder itself as the check means a timestamp that validates always decodes.
    """
    try:
        msgspec.convert(value, datetime)
    except msgspec.ValidationError:
        return False
    return True


_FORMATS = {"date-time": is_ocpp_datetime}

_lock = threading.Lock()
# (version, is_response) -> action -> compiled validator
_validators: dict[tuple[str, bool], dict[str, Validate]] = {
    (version, response): {} for version in _LAYOUT for response in (False, True)
}
_actions: dict[str, frozenset[str]] = {}


def _schema_dir(version: str) -> Any:
    package, _, _ = _LAYOUT[version]
    return importlib.resources.files(package) / "schemas"


def _known_actions(version: str) -> frozenset[str]:
    actions = _actions.get(version)
    if actions is None:
        _, req, resp = _LAYOUT[version]
        names = [
            f.name.removesuffix(".json")
            for f in _schema_dir(version).iterdir()
            if f.name.endswith(".json")
        ]
        if req:
            actions = frozenset(n.removesuffix(req) for n in names if n.endswith(req))
        else:
            actions = frozenset(n for n in names if not n.endswith(resp))
        _actions[version] = actions
    return actions


def _compile(version: str, action: str, response: bool) -> Validate:
    _, req, resp = _LAYOUT[version]
    name = f"{action}{resp if response else req}.json"
    schema = orjson.loads((_schema_dir(version) / name).read_bytes())
    # The security-whitepaper schemas carry "$id": "urn:OCPP:..."; refs are all local
    # ("#/definitions/..."), so drop the id rather than have it taken as a base URI.
    schema.pop("$id", None)
    _bound_integers(schema)
    return fastjsonschema.compile(schema, formats=_FORMATS, use_default=False)


#: OCPP integers are 32-bit (OCPP 2.0.1 part 2 §2.1.4 "integer: 32 bit"; 1.6 leaves it unsaid
#: and every implementation and our columns hold 32 bits). A value outside, e.g. connectorId
#: 2**63, is a PropertyConstraintViolation rather than a database overflow (InternalError).
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
# Fields that are never negative whatever the schema says (OCPP 1.6 §6: "connectorId >= 0").
_NON_NEGATIVE = frozenset({"connectorId"})


def _bound_integers(node: Any, name: str = "") -> None:
    """Add 32-bit bounds to every integer property of a schema (in place)."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            low = 0 if name in _NON_NEGATIVE else INT32_MIN
            node["minimum"] = max(node.get("minimum", low), low)
            node["maximum"] = min(node.get("maximum", INT32_MAX), INT32_MAX)
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                for prop, sub in value.items():
                    _bound_integers(sub, prop)
            elif key != "enum":
                _bound_integers(value, name if key == "items" else "")
    elif isinstance(node, list):
        for item in node:
            _bound_integers(item, name)


def _field(name: str) -> str:
    # fastjsonschema names paths "data.meterValue[0].timestamp"; the payload is the root.
    return name.removeprefix("data").removeprefix(".") or "(payload)"


def _to_error(action: str, kind: str, exc: fastjsonschema.JsonSchemaValueException) -> OcppError:
    rule = exc.rule or ""
    name = exc.name or "data"
    path = _field(name)
    if rule == "required" and isinstance(exc.value, dict) and isinstance(exc.definition, dict):
        missing = [k for k in exc.definition.get("required", ()) if k not in exc.value]
        prefix = "" if path == "(payload)" else f"{path}."
        field = ", ".join(prefix + k for k in missing) or path
        description = f"{action}.{kind}: missing required {field}"
    elif rule == "additionalProperties" and isinstance(exc.value, dict):
        allowed = (exc.definition or {}).get("properties", {})
        extra = [k for k in exc.value if k not in allowed]
        prefix = "" if path == "(payload)" else f"{path}."
        field = ", ".join(prefix + k for k in extra) or path
        description = f"{action}.{kind}: unknown property {field}"
    else:
        field = path
        description = f"{action}.{kind}: {exc.message.removeprefix(name).strip()} at {path}"
    code = _RULE_CODES.get(rule, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION)
    definition = exc.definition if isinstance(exc.definition, dict) else {}
    if type(exc.value) is float and definition.get("type") == "integer":
        # A draft-06 schema takes 1e300 as an integer, and fails it on our 32-bit bound; the
        # typed payload (and every draft-04 schema) says it is no integer at all.
        code = ErrorCode.TYPE_CONSTRAINT_VIOLATION
    return OcppError(code, description, {"field": field, "rule": rule})


class SchemaValidator:
    """Validates OCPP payloads (dicts as decoded from JSON) against the official schemas."""

    __slots__ = ("_actions", "_requests", "_responses", "_version")

    def __init__(self, version: str = "1.6") -> None:
        if version not in _LAYOUT:
            raise ValueError(f"unsupported OCPP version {version!r}")
        self._version = version
        self._actions = _known_actions(version)
        self._requests = _validators[(version, False)]
        self._responses = _validators[(version, True)]

    @property
    def version(self) -> str:
        return self._version

    @property
    def actions(self) -> frozenset[str]:
        """Every action this version has schemas for."""
        return self._actions

    def knows(self, action: str) -> bool:
        """True if `action` is an action of this OCPP version."""
        return action in self._actions

    def preload(self) -> None:
        """Compile every schema of this version now (at start-up) instead of on first use."""
        for action in self._actions:
            for response in (False, True):
                table = self._responses if response else self._requests
                if action not in table:
                    self._compiled(action, response)

    def validate_request(self, action: str, payload: dict[str, Any]) -> None:
        """Raise OcppError unless `payload` is a valid `action` request."""
        validate = self._requests.get(action) or self._compiled(action, False)
        try:
            validate(payload)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise _to_error(action, "req", exc) from None

    def validate_response(self, action: str, payload: dict[str, Any]) -> None:
        """Raise OcppError unless `payload` is a valid `action` response."""
        validate = self._responses.get(action) or self._compiled(action, True)
        try:
            validate(payload)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise _to_error(action, "conf", exc) from None

    def _compiled(self, action: str, response: bool) -> Validate:
        if action not in self._actions:
            raise OcppError(
                ErrorCode.NOT_IMPLEMENTED, f"unknown OCPP {self._version} action {action!r}"
            )
        table = self._responses if response else self._requests
        with _lock:
            validate = table.get(action)
            if validate is None:
                validate = table[action] = _compile(self._version, action, response)
        return validate
