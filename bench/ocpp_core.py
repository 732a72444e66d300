"""Throughput of the OCPP core's receive path (one core, no I/O).

    .venv/bin/python bench/ocpp_core.py [--n 20000]

Per message: OcppSession.receive_text (orjson parse, schema validation, typed msgspec decode)
and send_result (response encode + validation + serialise) + frames_to_send. Also reports the
stages separately. Prints messages/s, best of 5 runs.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime

import orjson

from kilowatt.ocpp import CallReceived, OcppSession, Role, SchemaValidator, parse_frame
from kilowatt.ocpp.v16 import decode_request
from kilowatt.ocpp.v16.messages import HeartbeatResponse, MeterValuesResponse

MEASURANDS = [
    ("Energy.Active.Import.Register", "Wh", None),
    ("Power.Active.Import", "W", None),
    ("Current.Import", "A", "L1"),
    ("Current.Import", "A", "L2"),
    ("Current.Import", "A", "L3"),
    ("Voltage", "V", "L1-N"),
    ("SoC", "Percent", None),
    ("Temperature", "Celsius", None),
]


def meter_values_payload() -> dict[str, object]:
    samples = []
    for i, (measurand, unit, phase) in enumerate(MEASURANDS):
        sample = {
            "value": f"{1234.5 + i:.1f}",
            "context": "Sample.Periodic",
            "measurand": measurand,
            "unit": unit,
            "location": "Outlet",
        }
        if phase:
            sample["phase"] = phase
        samples.append(sample)
    return {
        "connectorId": 1,
        "transactionId": 4711,
        "meterValue": [{"timestamp": "2026-01-01T12:00:00.000Z", "sampledValue": samples}],
    }


def frames(action: str, payload: dict[str, object], n: int) -> list[bytes]:
    return [orjson.dumps([2, f"{i:08d}", action, payload]) for i in range(n)]


def best_rate(run: Callable[[], int], repeat: int = 5) -> float:
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        count = run()
        best = max(best, count / (time.perf_counter() - start))
    return best


def session_loop(texts: list[bytes], reply: object) -> Callable[[], int]:
    def run() -> int:
        session = OcppSession(Role.CENTRAL_SYSTEM)
        now = 0.0
        for text in texts:
            (event,) = session.receive_text(text, now)
            assert type(event) is CallReceived
            session.send_result(event.message_id, reply)  # type: ignore[arg-type]
            session.frames_to_send()
        return len(texts)

    return run


def stage_loops(action: str, texts: list[bytes]) -> dict[str, Callable[[], int]]:
    validator = SchemaValidator()
    payloads = [orjson.loads(t)[3] for t in texts]

    def parse() -> int:
        for t in texts:
            parse_frame(t)
        return len(texts)

    def validate() -> int:
        for p in payloads:
            validator.validate_request(action, p)
        return len(payloads)

    def decode() -> int:
        for p in payloads:
            decode_request(action, p)
        return len(payloads)

    def all_three() -> int:
        for t in texts:
            call = parse_frame(t)
            validator.validate_request(action, call.payload)  # type: ignore[union-attr]
            decode_request(action, call.payload)  # type: ignore[union-attr]
        return len(texts)

    return {
        "parse_frame": parse,
        "validate": validate,
        "typed decode": decode,
        "parse+validate+decode": all_three,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20000)
    args = parser.parse_args()
    cases = [
        (
            "MeterValues (8 sampled values)",
            "MeterValues",
            meter_values_payload(),
            MeterValuesResponse(),
        ),
        ("Heartbeat", "Heartbeat", {}, HeartbeatResponse(current_time=datetime.now(UTC))),
    ]
    for label, action, payload, reply in cases:
        texts = frames(action, payload, args.n)
        print(f"{label}: {len(texts[0])} bytes/frame")
        for stage, loop in stage_loops(action, texts).items():
            print(f"  {stage:<42} {best_rate(loop):>10,.0f} msg/s")
        rate = best_rate(session_loop(texts, reply))
        print(f"  {'OcppSession.receive_text + send_result':<42} {rate:>10,.0f} msg/s")


if __name__ == "__main__":
    main()
