"""Security profiles 2 and 3 over wss://: the server certificate, TLS 1.2 and later only, client
certificates (OCPP 1.6 security whitepaper edition 3, sections 2.4 and 2.5).

Certificates are made at test time (``pki.Authority``). A client certificate that does not
chain to the CA, or is out of its validity period, fails the TLS handshake itself (the server
asks for a certificate and verifies what it is offered); one that chains but names another
station, or none at all for a profile-3 station, is refused at the upgrade with 403.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import websockets

from kilowatt.stations import service as stations
from security_profiles.connect import answers, basic, refusals, refused, register, station
from security_profiles.pki import ORG, Authority, client_context

from support.server import HANDSHAKE_TIMEOUT, RunningServer, running_server

KEY = "0123456789abcdef0123456789abcdef"


@contextlib.asynccontextmanager
async def tls_server(
    database_url: str, tmp_path: Path, cpo: Authority
) -> AsyncIterator[RunningServer]:
    cert, key = cpo.issue("localhost", server=True)
    async with running_server(
        database_url,
        tmp_path,
        tls_cert=str(cert),
        tls_key=str(key),
        tls_client_ca=str(cpo.ca_file),
        tls_client_org=ORG,
    ) as server:
        yield server


async def test_tc_086_tls_server_certificate_tls_1_2_or_later_only(
    database_url: str, tmp_path: Path, cpo: Authority
) -> None:
    """TC_086 / A00.FR.305-306, A00.FR.311-314: the server authenticates with its certificate
    and speaks TLS 1.2 or later; a TLS 1.1-only station cannot connect. A profile-1 station may
    connect over TLS too (more than its profile asks for)."""
    async with tls_server(database_url, tmp_path, cpo) as server:
        await register(server, "CP86", password=KEY, security_profile=2)
        await register(server, "CP86B", password=KEY)
        tls12 = client_context(cpo.ca_file, tls_version=ssl.TLSVersion.TLSv1_2)
        tls12.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384")  # one of A00.FR.317's four
        async with station(server, "CP86", headers=basic("CP86", KEY), context=tls12) as ws:
            tls = ws.transport.get_extra_info("ssl_object")
            assert (tls.version(), tls.cipher()[0]) == ("TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384")
            async with station(
                server, "CP86B", headers=basic("CP86B", KEY), context=client_context(cpo.ca_file)
            ) as newer:
                assert newer.transport.get_extra_info("ssl_object").version() == "TLSv1.3"
                await answers(newer)
            tls11 = client_context(cpo.ca_file, tls_version=ssl.TLSVersion.TLSv1_1)
            # The server refuses the handshake (an alert, or a reset, depending on timing).
            with pytest.raises((ssl.SSLError, ConnectionResetError)):
                async with websockets.connect(
                    server.ws_url("CP86").replace("ws://", "wss://"),
                    subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                    additional_headers=basic("CP86", KEY),
                    ssl=tls11,
                    open_timeout=HANDSHAKE_TIMEOUT,
                ):
                    pass
            await answers(ws)
            # Profile 2 still needs its Basic credentials over TLS (A00.FR.301).
            assert await refused(server, "CP86", context=client_context(cpo.ca_file)) == 401
            await answers(ws)


async def test_tc_087_client_certificate_and_bad_certificates(
    database_url: str, tmp_path: Path, cpo: Authority
) -> None:
    """TC_087 / A00.FR.401-407: a profile-3 station authenticates with its certificate (CN = its
    id, O = the operator); another station's certificate, a certificate of another
    organisation or none is refused (403); one of an untrusted CA or an expired one fails the
    TLS handshake. A connected station is undisturbed by each attempt."""
    rogue = Authority.create(tmp_path / "rogue", "rogue")
    async with tls_server(database_url, tmp_path, cpo) as server:
        for charge_point_id in ("CP87", "CP87X"):
            await register(server, charge_point_id, security_profile=3)
        events = refusals(server)
        own = client_context(cpo.ca_file, cert=cpo.issue("CP87"))
        async with station(server, "CP87", context=own) as ws:
            await answers(ws)
            connection = server.node.registry.get("CP87")
            # Posing as the connected station: refused, and it stays connected.
            refused_at_upgrade = [
                client_context(cpo.ca_file, cert=cpo.issue("CP87X")),  # another station's
                client_context(cpo.ca_file, cert=cpo.issue("CP87", organization="Other")),
                client_context(cpo.ca_file),  # no certificate
            ]
            for context in refused_at_upgrade:
                assert await refused(server, "CP87", context=context) == 403
                await answers(ws)
            assert [(e.station, e.data["status"]) for e in events] == [("CP87", 403)] * 3
            failing_handshake = [
                client_context(cpo.ca_file, cert=rogue.issue("CP87X")),  # untrusted CA
                client_context(cpo.ca_file, cert=cpo.issue("CP87X", expired=True)),
            ]
            for context in failing_handshake:
                with pytest.raises((ssl.SSLError, ConnectionError, websockets.InvalidMessage)):
                    async with websockets.connect(
                        server.ws_url("CP87").replace("ws://", "wss://"),
                        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                        ssl=context,
                        open_timeout=HANDSHAKE_TIMEOUT,
                    ) as accepted:
                        await answers(accepted)  # TLS 1.3: the alert may come after the upgrade
                await answers(ws)
            assert connection is not None and server.node.registry.get("CP87") is connection
            assert len(events) == 3  # the TLS layer's refusals never reach the application
            async with station(
                server, "CP87X", context=client_context(cpo.ca_file, cert=cpo.issue("CP87X"))
            ) as other:
                await answers(other)
            await answers(ws)
        async with server.node.sessions() as db:
            row = await stations.repository.by_charge_point_id(db, "CP87")
        assert row is not None and row.security_profile == 3
