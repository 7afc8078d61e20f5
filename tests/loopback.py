"""The tests' loopback HTTP servers: run them on threads for as long as a test needs (stopping at once), and send
one request exactly as written (any method, a raw target, a chosen or missing Host) to see what comes back."""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TypeVar

S = TypeVar("S", bound=HTTPServer)


def start(server: S) -> S:
    """Serve on a thread of its own, polling every millisecond so that stop() takes no time (the default 0.5 s
    poll made every stop wait up to half a second)."""
    threading.Thread(target=server.serve_forever, args=(0.001,), daemon=True).start()
    return server


def stop(*servers: HTTPServer) -> None:
    for server in servers:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def running(*servers: HTTPServer) -> Iterator[None]:
    """Each server started for the block and stopped after it."""
    for server in servers:
        start(server)
    try:
        yield
    finally:
        stop(*reversed(servers))


def send(
    port: int, method: str, target: str, headers: dict[str, str] | None = None, body: bytes | None = None, timeout=5
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one request to 127.0.0.1:port; a Host header in `headers` replaces the default."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.putrequest(method, target, skip_host="Host" in (headers or {}), skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def answer_alibaba_json(handler: BaseHTTPRequestHandler, status: int, body: dict) -> None:
    """An Alibaba Cloud OpenAPI answer as its stand-ins give it: the body's fields beside a RequestId."""
    data = json.dumps({"RequestId": "req-1", **body}).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
