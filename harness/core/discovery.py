"""Greengrass discovery for the emulated core: the HTTPS API a client device asks for its core.

`GET /greengrass/discover/thing/<thing>` over TLS with the thing's certificate, the only authentication
the service accepts (Greengrass V1 developer guide, "Greengrass Discovery RESTful API",
https://docs.aws.amazon.com/greengrass/v1/developerguide/gg-discover-api.html). The answer lists the
group, the core's connectivity (the emulated broker's address) and the group CA, in the keys
AWSIoTPythonSDK's `DiscoveryInfoProvider` reads (`GGGroups`, `Cores`, `Connectivity`, `CAs`).

Refusals, each logged: a certificate that fails TLS (unknown issuer, expired) never gets an HTTP answer;
a thing asking for another thing's core gets 401 (the SDK's DiscoveryUnauthorizedException); a thing that
is not a device of the group gets 404 (DiscoveryDataNotFoundException), as the service answers a thing in
no group; any other path 400.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from raincheck.harness.core.certificates import EdgeCertificates

logger = logging.getLogger("raincheck.core.discovery")

PATH_PREFIX = "/greengrass/discover/thing/"
HANDSHAKE_TIMEOUT_S = 10.0


class DiscoveryService:
    """Serves discovery on 127.0.0.1 (an ephemeral port) for the group's devices."""

    def __init__(
        self,
        certificates: EdgeCertificates,
        *,
        group: str,
        group_id: str,
        core_thing_arn: str,
        things: list[str],
        broker_address: tuple[str, int],
    ) -> None:
        self.certificates = certificates
        self.things = set(things)
        self.requests = 0
        self.refused = 0
        self._document = {
            "GGGroups": [
                {
                    "GGGroupId": group_id,
                    "Cores": [
                        {
                            "thingArn": core_thing_arn,
                            "Connectivity": [
                                {
                                    "Id": "emulated-core",
                                    "HostAddress": broker_address[0],
                                    "PortNumber": broker_address[1],
                                    "Metadata": f"raincheck emulated core of group {group}",
                                }
                            ],
                        }
                    ],
                    "CAs": [certificates.group_ca.pem.decode("ascii")],
                }
            ]
        }
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(certificates.discovery_server.cert, certificates.discovery_server.key)
        context.load_verify_locations(certificates.iot_ca.path)
        context.verify_mode = ssl.CERT_REQUIRED
        self._server = _TlsServer(("127.0.0.1", 0), _Handler, context, self)
        self._thread = threading.Thread(target=self._server.serve_forever, name="gg-discovery", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        return self._server.server_address[0], self._server.server_address[1]

    def start(self) -> DiscoveryService:
        self._thread.start()
        logger.info("Greengrass discovery on https://%s:%d%s<thing>", *self.address, PATH_PREFIX)
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()

    def answer(self, certificate_thing: str | None, path: str) -> tuple[int, dict[str, Any]]:
        """(status, body) for a request on `path` by the holder of `certificate_thing`'s certificate."""
        self.requests += 1
        if not path.startswith(PATH_PREFIX) or "/" in path[len(PATH_PREFIX) :]:
            status, body = 400, {"errorMessage": f"not a discovery request: {path}"}
        else:
            thing = path[len(PATH_PREFIX) :]
            if certificate_thing != thing:
                status, body = 401, {"errorMessage": f"the certificate is not for thing {thing}"}
            elif thing not in self.things:
                status, body = 404, {"errorMessage": f"thing {thing} is not a member of a Greengrass group"}
            else:
                logger.info("discovery for %s: core at %s", thing, self._connectivity())
                return 200, self._document
        self.refused += 1
        logger.warning(
            "discovery request %s by thing %r refused: %d %s", path, certificate_thing, status, body
        )
        return status, body

    def _connectivity(self) -> str:
        info = self._document["GGGroups"][0]["Cores"][0]["Connectivity"][0]
        return f"{info['HostAddress']}:{info['PortNumber']}"


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: Any, handler: type, context: ssl.SSLContext, service: DiscoveryService
    ) -> None:
        super().__init__(address, handler)
        self.context = context
        self.service = service

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The handshake runs in the request's thread, so a refusal is logged with the peer's address.
        request.settimeout(HANDSHAKE_TIMEOUT_S)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as error:
            self.service.refused += 1
            logger.warning(
                "discovery connection from %s:%d refused in the TLS handshake: %s", *client_address, error
            )
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            with contextlib.suppress(OSError):  # the client may have closed first
                tls.shutdown(socket.SHUT_RDWR)
            tls.close()  # wrap_socket detached the raw socket: socketserver's own close reaches nothing


class _Handler(BaseHTTPRequestHandler):
    server: _TlsServer
    protocol_version = "HTTP/1.1"  # AWSIoTPythonSDK reads the status line as "HTTP/1.1 <code> "

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        thing = None
        for entry in self.connection.getpeercert().get("subject", ()):
            for key, value in entry:
                if key == "commonName":
                    thing = value
        status, body = self.server.service.answer(thing, self.path)
        data = json.dumps(body).encode()
        self.send_response(status)
        # Lower-case names, as the service sends them: the SDK matches "content-length: " case-sensitively.
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("connection", "close")
        self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # the service logs its own decisions
        return
