"""Requests to a model hub that carry its token: the token goes to the named host only, never in clear text."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.parse
import urllib.request


class InsecureTokenError(ValueError):
    """A hub token would travel in clear text: refused before any request is sent."""


def hub_request(url: str, token: str | None, user_agent: str, data: bytes | None = None) -> urllib.request.Request:
    """A request whose token goes to `url`'s host only: urllib copies ordinary headers onto every redirect
    (Hugging Face redirects large files to CDN hosts), but never an unredirected one. Plain http is refused
    with a token, except on loopback (the tests' hub stand-in)."""
    request = urllib.request.Request(url, data=data, headers={"User-Agent": user_agent})
    if token:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise InsecureTokenError(f"refusing to send a hub token over {parts.scheme} to {parts.hostname}")
        request.add_unredirected_header("Authorization", f"Bearer {token}")
    return request


class HubReadError(OSError):
    """A hub's answer could not be read within its bounds; the message holds no word the server chose."""


def read_bounded(request: urllib.request.Request, limit: int, timeout: float) -> bytes:
    """At most `limit` bytes of the answer, each read within `timeout`. A failure names the status code or the
    error's type, never the server's reason phrase or body, so nothing it sends reaches a message."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read(limit + 1)
    except urllib.error.HTTPError as error:
        raise HubReadError(f"answered HTTP {error.code}") from error
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        raise HubReadError(f"cannot be reached ({type(error).__name__})") from error
    if len(data) > limit:
        raise HubReadError(f"answered more than {limit} bytes")
    return data
