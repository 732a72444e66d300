"""Standard Webhooks signatures: what Kilowatt sends, and what a receiver's ``verify`` accepts."""

from __future__ import annotations

import base64
import json
import time

import pytest

from kilowatt.webhooks.signing import (
    WebhookVerificationError,
    new_secret,
    sign,
    signed_headers,
    verify,
)

# The specification's published test vector (also in every reference library's tests).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

BODY = b'{"type":"session.started","timestamp":"2026-01-01T00:00:00Z","data":{"id":"1-1"}}'


def test_the_signature_matches_the_specifications_test_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    assert verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP + 10) == {
        "test": 2432232314
    }


def test_secrets_are_whsec_base64_of_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert new_secret() != secret


def test_a_genuine_request_verifies_and_gives_the_payload() -> None:
    secret = new_secret()
    headers = signed_headers(secret, "msg_1", int(time.time()), BODY)
    assert verify(secret, headers, BODY) == json.loads(BODY)
    # header names in any case (HTTP headers are case-insensitive)
    assert verify(secret, {k.title(): v for k, v in headers.items()}, BODY) == json.loads(BODY)


def test_a_tampered_body_does_not_verify() -> None:
    secret = new_secret()
    headers = signed_headers(secret, "msg_1", int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        verify(secret, headers, BODY.replace(b"started", b"stopped"))


def test_a_tampered_id_or_timestamp_does_not_verify() -> None:
    secret, now = new_secret(), int(time.time())
    headers = signed_headers(secret, "msg_1", now, BODY)
    with pytest.raises(WebhookVerificationError):
        verify(secret, headers | {"webhook-id": "msg_2"}, BODY)
    with pytest.raises(WebhookVerificationError):
        verify(secret, headers | {"webhook-timestamp": str(now - 1)}, BODY)


def test_another_secret_does_not_verify() -> None:
    headers = signed_headers(new_secret(), "msg_1", int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        verify(new_secret(), headers, BODY)


@pytest.mark.parametrize("age", [301, -301, 3600])
def test_a_timestamp_more_than_five_minutes_off_is_refused(age: int) -> None:
    secret, now = new_secret(), int(time.time())
    headers = signed_headers(secret, "msg_1", now - age, BODY)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify(secret, headers, BODY, now=now)


def test_a_timestamp_within_five_minutes_is_accepted() -> None:
    secret, now = new_secret(), int(time.time())
    for age in (299, -299):
        verify(secret, signed_headers(secret, "msg_1", now - age, BODY), BODY, now=now)


def test_one_valid_signature_of_several_is_enough() -> None:
    """The header is a space-separated list (a sender rotating keys signs with both)."""
    secret, now = new_secret(), int(time.time())
    good = sign(secret, "msg_1", now, BODY)
    other = sign(new_secret(), "msg_1", now, BODY)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(now),
        "webhook-signature": f"{other} v1a,c29tZXRoaW5n {good}",
    }
    assert verify(secret, headers, BODY) == json.loads(BODY)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_request_without_a_header_is_refused(missing: str) -> None:
    secret = new_secret()
    headers = signed_headers(secret, "msg_1", int(time.time()), BODY)
    del headers[missing]
    with pytest.raises(WebhookVerificationError, match="missing header"):
        verify(secret, headers, BODY)


def test_a_timestamp_that_is_no_number_is_refused() -> None:
    secret = new_secret()
    headers = signed_headers(secret, "msg_1", int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError, match="invalid webhook-timestamp"):
        verify(secret, headers | {"webhook-timestamp": "soon"}, BODY)
