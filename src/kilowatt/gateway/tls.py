"""TLS for the station endpoint (security profiles 2 and 3) and the client certificate in scope.

The server context allows TLS 1.2 and later only (A00.FR.312/416). With a client CA it *asks* for
a certificate without requiring one, so that profile 1 and 2 stations still connect over TLS;
a certificate that is offered must chain to the CA and be within its validity period, or the
handshake fails (A00.FR.403/407). Whether a station *needs* one is its profile's business
(``kilowatt.stations.security``).

uvicorn does not put the peer certificate into the ASGI scope: ``WebSocketProtocol`` adds the
ASGI TLS extension (``scope["extensions"]["tls"]``) from the connection's ``ssl_object``.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Mapping
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from kilowatt.config import Settings
from kilowatt.stations.security import PLAIN, ClientCertificate, TransportSecurity

# Python's default suites plus the two TLS_RSA ones A00.FR.317 asks a central system to offer
# (they need an RSA server certificate; the ECDHE_ECDSA ones an EC certificate).
CIPHERS = (
    "@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:DHE+AES:!aNULL:!eNULL:!aDSS:!SHA1:!AESCCM"
    ":AES128-GCM-SHA256:AES256-GCM-SHA384"
)


def enabled(settings: Settings) -> bool:
    return bool(settings.tls_cert)


def server_context(settings: Settings) -> ssl.SSLContext:
    """The TLS context of the server: its certificate, TLS >= 1.2, client CA if configured."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION  # A00.FR.320
    context.set_ciphers(CIPHERS)
    context.load_cert_chain(settings.tls_cert, settings.tls_key or None)
    if settings.tls_client_ca:
        context.load_verify_locations(cafile=settings.tls_client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The ``uvicorn.Config`` keyword arguments that serve TLS, or none without a certificate."""
    if not enabled(settings):
        return {}

    def factory(_config: Any, _default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        return server_context(settings)

    return {"ssl_context_factory": factory}


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, with the ASGI TLS extension in the scope (when
    the connection is TLS) and a refused handshake counted as complete."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._ssl_object: ssl.SSLObject | None = transport.get_extra_info("ssl_object")

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # not set when the handshake itself failed
        if scope is not None and self._ssl_object is not None:
            scope["extensions"]["tls"] = tls_extension(self._ssl_object)

    async def send(self, message: Any) -> None:
        await super().send(message)
        # uvicorn 0.54 leaves a handshake answered with a denial response (401, 429, 503 …)
        # "incomplete" and logs an ERROR for every refused station when the app returns; under
        # a reconnect storm that is thousands of lines. The denial is on the wire once its last
        # body part is sent (as wsproto marks it; Kludex/uvicorn pull request #3138).
        if (
            message["type"] == "websocket.http.response.body"
            and not message.get("more_body", False)
            and self.close_sent
        ):
            self.handshake_complete = True


_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def tls_extension(ssl_object: ssl.SSLObject) -> dict[str, Any]:
    """The ASGI TLS extension of a connection (``client_cert_chain``: the peer's own
    certificate, PEM, when it sent one)."""
    der = ssl_object.getpeercert(binary_form=True)
    version = ssl_object.version()
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(version or ""),
        "cipher_suite": None,
    }


def transport_security(scope: Mapping[str, Any]) -> TransportSecurity:
    """What a WebSocket scope's transport offers: TLS, and the subject of a client certificate."""
    extension = (scope.get("extensions") or {}).get("tls")
    if scope.get("scheme") != "wss" or extension is None:
        return PLAIN
    chain = extension.get("client_cert_chain") or []
    if not chain:
        return TransportSecurity(tls=True)
    subject = x509.load_pem_x509_certificate(chain[0].encode()).subject
    return TransportSecurity(
        tls=True,
        client_certificate=ClientCertificate(
            common_name=_attribute(subject, NameOID.COMMON_NAME),
            organization=_attribute(subject, NameOID.ORGANIZATION_NAME),
        ),
    )


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    if len(values) != 1:  # none, or ambiguous: neither names one station
        return None
    value = values[0].value
    return value if isinstance(value, str) else value.decode()
