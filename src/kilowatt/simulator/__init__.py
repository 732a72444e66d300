"""Simulated OCPP 1.6-J charge points: one SimulatedStation for tests, thousands with run().

See docs/simulator.md.
"""

from .charging import Connector, StartResult, Transaction
from .config import DEFAULT_ID_TAGS, SimulatorConfig, SimulatorStats
from .ev import Ev
from .link import (
    CallFailed,
    CallTimeout,
    ConnectionLost,
    NotAccepted,
    NotConnected,
    StationError,
)
from .runner import run
from .station import ReceivedCommand, SimulatedStation

__all__ = [
    "DEFAULT_ID_TAGS",
    "CallFailed",
    "CallTimeout",
    "ConnectionLost",
    "Connector",
    "Ev",
    "NotAccepted",
    "NotConnected",
    "ReceivedCommand",
    "SimulatedStation",
    "SimulatorConfig",
    "SimulatorStats",
    "StartResult",
    "StationError",
    "Transaction",
    "run",
]
