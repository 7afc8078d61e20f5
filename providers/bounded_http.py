"""One HTTP exchange with a total deadline, a size cap and no redirects, for clients that carry credentials.

urllib is the wrong tool for a request that carries a key: it follows 301/302/303 redirects and sends every
header, Authorization included, to whatever host the Location names, and its timeout bounds each socket
read, so a server answering a byte at a time never times out. Here a redirect is returned to the caller,
never followed, and a timer shuts the socket at the deadline wherever the exchange stands.

A proxy, when the caller names one, is used only as a CONNECT tunnel to an https host: TLS then runs end to
end with the host the URL names (its certificate checked against that name), so the proxy can neither read the
request nor answer in the host's name, and a proxy that answers the CONNECT with a redirect or an error ends
the exchange there.

Standard library only: the probe uses it too, and does not import Pulumi.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_BODY_BYTES = 1 << 20  # a chat completion of 16 tokens or a GraphQL answer is far smaller


class ExchangeError(Exception):
    """The exchange did not complete. `kind` is one of:

    timeout      the deadline passed (connecting, waiting, or reading a trickling answer)
    unreachable  no connection: bad URL, DNS, refused, TLS handshake failed
    broken       the connection broke or the answer is not HTTP: bad status line, truncated body
    too-large    the body is larger than the caller accepts
    bad-request  the request itself cannot be sent (a header value with a newline, say)

    The message never contains header values, so a key cannot leak through it.
    """

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class HttpResponse:
    status: int
    reason: str
    body: bytes
    location: str = ""  # where a 3xx points; never followed

    @property
    def is_redirect(self) -> bool:
        return 300 <= self.status < 400


def post(
    url: str, headers: Mapping[str, str], body: bytes, timeout: float, max_body: int = MAX_BODY_BYTES
) -> HttpResponse:
    """POST body to url, giving up `timeout` seconds after starting, whatever the server does."""
    return request("POST", url, headers, body, timeout, max_body)


def get(url: str, headers: Mapping[str, str], timeout: float, max_body: int = MAX_BODY_BYTES) -> HttpResponse:
    """GET url under the same rules as post: one host, no redirect followed, a total deadline."""
    return request("GET", url, headers, None, timeout, max_body)


def request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    timeout: float,
    max_body: int = MAX_BODY_BYTES,
    https_proxy: str = "",
) -> HttpResponse:
    """One exchange with url's host only, giving up `timeout` seconds after starting, whatever the server does.

    `https_proxy` (http://host:port): for an https URL, tunnel through it with CONNECT; ignored for http."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise ExchangeError("unreachable", "the URL has an invalid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ExchangeError("unreachable", "not an http(s) URL")
    if "@" in parts.netloc:  # user-info: credentials in the URL, or a host that is not the one it looks like
        raise ExchangeError("unreachable", "the URL carries user-info (user@host); refused")
    if timeout <= 0 or timeout != timeout:
        raise ExchangeError("timeout", "no time left for the exchange")
    if parts.scheme == "https" and https_proxy:
        proxy = urlsplit(https_proxy if "://" in https_proxy else f"http://{https_proxy}")
        try:
            proxy_port = proxy.port or 80
        except ValueError:
            raise ExchangeError("unreachable", "the proxy URL has an invalid port") from None
        if proxy.scheme != "http" or not proxy.hostname or "@" in proxy.netloc:
            raise ExchangeError("unreachable", "the proxy must be an http://host:port URL without user-info")
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            proxy.hostname, proxy_port, timeout=timeout
        )
        connection.set_tunnel(parts.hostname, port)
    else:
        connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(parts.hostname, port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = time.monotonic() + timeout
    expired = threading.Event()
    # The socket itself, kept here: http.client drops connection.sock once a closing response is under way,
    # while the response still reads from it.
    held: list[socket.socket] = []

    def cut_off() -> None:
        expired.set()  # before looking at the socket: a connect finishing now sees the flag
        sock = held[0] if held else connection.sock
        if sock is not None:
            # The plain socket's shutdown, under any TLS layer: the blocked read returns at once.
            with suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    timer = threading.Timer(timeout, cut_off)
    timer.daemon = True
    timer.start()
    try:
        try:
            connection.connect()
        except (OSError, http.client.HTTPException) as error:
            if expired.is_set() or isinstance(error, TimeoutError):
                raise ExchangeError("timeout", f"no connection within {timeout:g} s") from None
            raise ExchangeError("unreachable", f"cannot connect: {_reason(error)}") from None
        if connection.sock is not None:
            held.append(connection.sock)
        if expired.is_set():
            raise ExchangeError("timeout", f"no connection within {timeout:g} s")
        try:
            connection.request(method, path, body=body, headers=dict(headers))
        except ValueError:  # http.client's message quotes the offending header value: never repeat it
            raise ExchangeError("bad-request", "a header value cannot be sent (it contains a line break?)") from None
        response = connection.getresponse()
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = response.read(min(65536, max_body + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > max_body:
                raise ExchangeError("too-large", f"the answer is larger than {max_body} bytes")
        if expired.is_set() or time.monotonic() > deadline:
            raise ExchangeError("timeout", f"no complete answer within {timeout:g} s")
        if response.length:  # Content-Length promised more than arrived
            raise ExchangeError("broken", "the answer was cut short")
        return HttpResponse(response.status, response.reason, b"".join(chunks), response.getheader("Location", ""))
    except ExchangeError:
        raise
    except (OSError, http.client.HTTPException) as error:
        if expired.is_set() or isinstance(error, TimeoutError):
            raise ExchangeError("timeout", f"no complete answer within {timeout:g} s") from None
        raise ExchangeError("broken", f"the exchange broke: {_reason(error)}") from None
    finally:
        timer.cancel()
        connection.close()


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return type(error).__name__
