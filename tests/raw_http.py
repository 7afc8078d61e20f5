"""Two helpers for tests of the serving image's HTTP servers: run servers on threads for a test, and send one
request exactly as written (any method, a raw target, a chosen or missing Host) to see what comes back."""

from __future__ import annotations

import contextlib
import http.client
import threading
from collections.abc import Iterator
from http.server import HTTPServer


@contextlib.contextmanager
def running(*servers: HTTPServer) -> Iterator[None]:
    """Serve each on its own thread, polling every millisecond so that stopping takes no time."""
    for server in servers:
        threading.Thread(target=server.serve_forever, args=(0.001,), daemon=True).start()
    try:
        yield
    finally:
        for server in reversed(servers):
            server.shutdown()
            server.server_close()


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
