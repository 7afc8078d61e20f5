"""Requests to a model hub that carry its token: the token goes to the named host only, never in clear text."""

from __future__ import annotations

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
