"""Helpers for the OCPP core tests: example payloads built from the schemas, a fake link."""

from __future__ import annotations

import importlib.resources
import json
from dataclasses import dataclass, field
from typing import Any

from kilowatt.ocpp import Event, OcppSession

SCHEMAS = importlib.resources.files("ocpp.v16") / "schemas"
T0 = 1000.0


def schema(action: str, response: bool) -> dict[str, Any]:
    name = f"{action}{'Response' if response else ''}.json"
    data: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return data


def schema_actions() -> list[str]:
    names = [f.name.removesuffix(".json") for f in SCHEMAS.iterdir() if f.name.endswith(".json")]
    return sorted(n for n in names if not n.endswith("Response"))


def example(node: dict[str, Any], defs: dict[str, Any], *, full: bool) -> Any:
    """A valid value for a schema node: every property when `full`, else only required ones."""
    if "$ref" in node:
        return example(defs[node["$ref"].rsplit("/", 1)[-1]], defs, full=full)
    if "enum" in node:
        return node["enum"][-1 if full else 0]
    kind = node.get("type")
    if kind == "object":
        required = set(node.get("required", ()))
        return {
            key: example(sub, defs, full=full)
            for key, sub in node.get("properties", {}).items()
            if full or key in required
        }
    if kind == "array":
        return [example(node["items"], defs, full=full)]
    if kind == "string":
        if node.get("format") == "date-time":
            return "2026-01-01T00:00:00.123000Z" if full else "2026-01-01T00:00:00Z"
        if node.get("format") == "uri":
            return "ftp://example.com/file"
        return "x" * min(node.get("maxLength", 8), 8)
    if kind == "integer":
        return 7
    if kind == "number":
        return 16.5 if full else 32
    if kind == "boolean":
        return True
    raise AssertionError(f"unexpected schema node {node}")


def example_payload(action: str, *, response: bool = False, full: bool = True) -> dict[str, Any]:
    s = schema(action, response)
    result: dict[str, Any] = example(s, s.get("definitions", {}), full=full)
    return result


@dataclass
class Link:
    """Two sessions joined back to back: frames written by one are read by the other."""

    a: OcppSession
    b: OcppSession
    wire: list[tuple[str, str]] = field(default_factory=list)  # (sender, frame) for inspection

    def pump(self, now: float) -> tuple[list[Event], list[Event]]:
        """Deliver frames both ways until both sides are quiet: (events at a, events at b)."""
        at_a: list[Event] = []
        at_b: list[Event] = []
        while True:
            from_a, from_b = self.a.frames_to_send(), self.b.frames_to_send()
            if not from_a and not from_b:
                return at_a, at_b
            for frame in from_a:
                self.wire.append(("a", frame))
                at_b.extend(self.b.receive_text(frame, now))
            for frame in from_b:
                self.wire.append(("b", frame))
                at_a.extend(self.a.receive_text(frame, now))
