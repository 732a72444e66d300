"""Issue 3: a property-based run over the OpenAPI schema (schemathesis), bounded and seeded.

Every operation of the schema the node serves is called with generated requests (valid ones and
invalid ones), first as a driver, then as a platform admin (the node's admin key), against a
real node on 127.0.0.1 holding the matrix's world (two tenants, connected charge points,
sessions, ...). Every answer must not be a 5xx (``not_a_server_error``) and must match the
schema documented for its status (``response_schema_conformance``).

Bounded: ``MAX_EXAMPLES`` generated cases per operation and phase, a fixed ``SEED`` and
derandomised Hypothesis (no example database), so that a run makes the same requests every time.
A failure prints the request that reproduces it (a curl command).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import response_schema_conformance

from api_fuzz.node import BackgroundNode
from security.world import A_STATION, B_STATION, CARDS, make_app, settings_for

# CI runs the defaults; KILOWATT_FUZZ_MAX_EXAMPLES / KILOWATT_FUZZ_SEED explore further locally.
MAX_EXAMPLES = int(os.environ.get("KILOWATT_FUZZ_MAX_EXAMPLES", "10"))
SEED = int(os.environ.get("KILOWATT_FUZZ_SEED", "20240503"))
REQUEST_TIMEOUT = 20.0
# Commands and starts wait for the charger; keep the worst case short.
NODE_SETTINGS: dict[str, Any] = {"call_timeout": 2.0, "start_timeout": 2.0}

# Values a generated request takes now and then (probability 0.5 per bound parameter) instead of
# random ones: ids of the world's rows (so that requests reach them, not only 404s) and the edge
# values random generation seldom hits: integers past the database's integer columns (int32 in
# PostgreSQL, int64 in SQLite), datetimes at the ends of the calendar with an offset, and strings
# holding NUL (which PostgreSQL refuses to store).
HUGE = [2**31, 2**63, 2**64 + 1]
NUL = "SEC\x00X"
DICTIONARIES: dict[str, list[Any]] = {
    "charge_points": [A_STATION, B_STATION, NUL, str(HUGE[1])],
    "actions": [
        "GetConfiguration",
        "ChangeConfiguration",
        "Reset",
        "UnlockConnector",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "TriggerMessage",
        "ChangeAvailability",
        "ClearCache",
        "DataTransfer",
        "GetDiagnostics",
        "ReserveNow",
        "SetChargingProfile",
    ],
    # EVSE ids of SEC-A-CP1 (station 1) and SEC-B-CP1 (station 3), a connector's row id
    "connector_refs": [
        "DE*KWT*E1*1",
        "DE*KWT*E3*1",
        "2",
        NUL,
        str(HUGE[1]),
        f"DE*KWT*E{HUGE[1]}*1",
    ],
    "id_tags": [*CARDS.values(), NUL],
    "ids": [1, 2, *HUGE],
    "offsets": [0, 2**63, 2**64 + 1],
    "connector_numbers": [1, 2, HUGE[1]],
    "tenants": ["acme", "bolt", NUL, str(HUGE[1])],
    "times": ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2024-05-03T12:00:00Z"],
    "texts": [NUL],
}
PARAMETERS = {
    "path.charge_point_id": "charge_points",
    "query.station": "charge_points",
    "query.charge_point_id": "charge_points",
    "body.charge_point_id": "charge_points",
    "body.station": "charge_points",
    "body.ChargingStationId": "charge_points",
    "path.action": "actions",
    "path.ref": "connector_refs",
    "path.gun_id": "connector_refs",
    "body.connector": "connector_refs",
    "body.ChargingGunId": "connector_refs",
    "path.id_tag": "id_tags",
    "path.charge_tag_id": "id_tags",
    "body.id_tag": "id_tags",
    "body.ChargeTagId": "id_tags",
    "body.parent_id_tag": "id_tags",
    "path.session_id": "ids",
    "path.user_id": "ids",
    "path.key_id": "ids",
    "path.site_id": "ids",
    "path.transaction_id": "ids",
    "query.site_id": "ids",
    "query.user_id": "ids",
    "body.site_id": "ids",
    "body.user_id": "ids",
    "body.ChargingSessionId": "ids",
    "body.SessionId": "ids",
    "query.offset": "offsets",
    "query.page": "offsets",
    "path.connector_id": "connector_numbers",
    "body.connector_number": "connector_numbers",
    "body.ConnectorId": "connector_numbers",
    "query.tenant": "tenants",
    "body.tenant": "tenants",
    "query.from": "times",
    "query.to": "times",
    "body.expiry_date": "times",
    "path.command_id": "texts",
    "body.name": "texts",
    "body.email": "texts",
    "body.address": "texts",
    "body.refresh_token": "texts",
}
# Charger outcomes these endpoints answer with a 5xx on purpose (docs/sessions.md): the charger
# is offline (503), did not answer (504) or answered something unexpected (502). Never a 500.
CHARGER_FACING = [
    ("POST", "/api/ChargingSession/start-charging-session"),
    ("POST", "/api/ChargingSession/unlock-connector"),
    ("POST", "/api/v1/connectors/{ref}/unlock"),
    ("POST", "/api/v1/sessions"),
]
CHARGER_STATUSES = ["2xx", "3xx", "4xx", 502, 503, 504]

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "suppress-health-check": ["all"],
        "generation": {
            "mode": "all",  # valid requests and invalid ones
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,  # Hypothesis' derandomize
            "database": "none",  # nothing replayed from earlier runs
            "unique-inputs": True,
            "no-shrink": True,  # a failing run stays as short as a passing one
        },
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},  # boundary values of every parameter, deterministic
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
        "dictionaries": {name: {"values": values} for name, values in DICTIONARIES.items()},
        "parameters": {
            key: {"dictionary": name, "probability": 0.5} for key, name in PARAMETERS.items()
        },
        "operations": [
            {
                "include-method": method,
                "include-path": path,
                "checks": {"not_a_server_error": {"expected-statuses": CHARGER_STATUSES}},
            }
            for method, path in CHARGER_FACING
        ],
        "request-timeout": REQUEST_TIMEOUT,
        # Reproducing requests print in full, but for the test credentials.
        "output": {
            "sanitization": {
                "keys-to-sanitize": ["authorization", "x-api-key"],
                "sensitive-markers": ["not-a-field-name"],
            }
        },
    }
)


def served_schema() -> dict[str, Any]:
    """The OpenAPI document the node serves (the same app as the live node, without running it)."""
    directory = Path(tempfile.gettempdir())
    return make_app(settings_for("sqlite+aiosqlite://", directory, **NODE_SETTINGS)).openapi()


SCHEMA_DOCUMENT = served_schema()
# The event stream never ends (its own tests are in tests/live), so it is not fuzzed here.
schema = schemathesis.openapi.from_dict(SCHEMA_DOCUMENT, config=CONFIG).exclude(
    path="/api/v1/events"
)
CHECKS = [not_a_server_error, response_schema_conformance]
# Schemathesis' coverage phase draws from `random` inside a strategy (its own affair).
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
if os.environ.get("KILOWATT_FUZZ_DOC_CHECKS"):
    # Exploration: also every status code and content type documented (the API does not yet
    # document its 400s, problem+json 422s, and 401/403/404/5xx on the older routers).
    CHECKS += [status_code_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def node(
    migrated_database: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BackgroundNode]:
    directory = tmp_path_factory.mktemp("api-fuzz")
    with BackgroundNode(
        migrated_database.backend, migrated_database.url, directory, **NODE_SETTINGS
    ) as running:
        live = requests.get(f"{running.base_url}/openapi.json", timeout=10).json()
        assert live == SCHEMA_DOCUMENT, "the fuzzed schema is not the one the node serves"
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def _call(case: Any, node: BackgroundNode, http: requests.Session, caller: str) -> None:
    case.call_and_validate(
        base_url=node.base_url,
        session=http,
        headers=node.world.headers[caller],
        checks=CHECKS,
        timeout=REQUEST_TIMEOUT,
    )


@pytest.fixture
def driver_usable(node: BackgroundNode) -> None:
    """Once per operation: the driver's account as it was (a platform admin's run may change it)."""
    node.keep_driver_usable()


# Drivers first: fuzzing as a platform admin changes accounts and rows on the way.
@schema.parametrize()
def test_fuzz_as_driver(
    case: Any, node: BackgroundNode, http: requests.Session, driver_usable: None
) -> None:
    _call(case, node, http, "driver")


@schema.parametrize()
def test_fuzz_as_platform_admin(case: Any, node: BackgroundNode, http: requests.Session) -> None:
    _call(case, node, http, "node")
