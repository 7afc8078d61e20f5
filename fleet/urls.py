"""What a URL is, decided on its parsed parts in one place: loopback, user-info, credentials in the query.

Every check that lets plain http through "on loopback, for a local test server" asks `is_loopback`, which looks
at the host `urlsplit` parses, never at how the text begins: `http://localhost:1@evil.example:8080/v1` starts
like loopback but its host is evil.example (`localhost:1` is user-info), so a key sent there crosses the network
in clear text. A URL with user-info is refused everywhere (`url_problems`): it carries a credential, or it hides
its real host behind one that looks trusted.

Users: the router-config check (fleet/router_config.schema_problems, which the probe runs before sending
anything, and problems, which the router stack runs), the settings of every URL-valued key
(fleet/settings/problems.url_credential_problem) and the EAS token reader's test seam (providers/eas_token.py).

Pure: standard library only.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qsl, urlsplit

LOOPBACK_NAMES = frozenset({"localhost"})
# Query parameter names that carry a credential (token=, api_key=, X-Amz-Signature=, sig=, password=, ...),
# alone or as the last part of a longer name (access_token, hf-token); fleet/credentials finds the same in text.
CREDENTIAL_PARAM_NAMES = (
    r"token|auth|authorization|api[-_]?key|apikey|key|secret|password|passwd|pwd|signature|sig|credentials?"
    r"|session|x-amz-[a-z-]+"
)
_CREDENTIAL_PARAM = re.compile(rf"(^|[-_.])({CREDENTIAL_PARAM_NAMES})$", re.IGNORECASE)


def _parts(url: str):  # noqa: ANN202 (urllib's SplitResult)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return None
    return parts


def has_user_info(url: str) -> bool:
    """A URL with anything before `@` in its authority (https://user:pass@host/, http://localhost:1@host/)."""
    parts = _parts(url)
    return parts is None or "@" in parts.netloc


def is_loopback(url: str) -> bool:
    """A URL whose parsed host is this machine (localhost, 127.0.0.0/8, ::1), without user-info.

    False for anything that does not parse, so a malformed URL never counts as local."""
    parts = _parts(url)
    if parts is None or "@" in parts.netloc or not parts.hostname:
        return False
    host = parts.hostname.lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def credential_params(url: str) -> list[str]:
    """The names of query (or fragment) parameters that look like they carry a credential (?token=...)."""
    parts = _parts(url)
    if parts is None:
        return []
    found = []
    for text in (parts.query, parts.fragment):
        for name, value in parse_qsl(text, keep_blank_values=True):
            if value and _CREDENTIAL_PARAM.search(name.strip()):
                found.append(name.strip())
    return found


def credential_problem(url: str) -> str:
    """Why `url` carries a credential (user-info, or a credential-looking query parameter); '' when it does not.
    A URL that does not parse is refused as such: its host or port cannot be read, so nothing is sent to it."""
    if _parts(url) is None:
        return "is not a valid URL (its host or port cannot be read)"
    if has_user_info(url):
        return "embeds user-info (user:password@ before the host), a credential in the URL"
    params = credential_params(url)
    if params:
        return f"carries a credential in its query ({', '.join(sorted(set(params)))}=...)"
    return ""


def transport_problem(url: str) -> str:
    """Why a credential must not be sent to `url`; '' for https, or plain http to this machine's loopback."""
    problem = credential_problem(url)
    if problem:
        return problem
    parts = _parts(url)
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http(s) URL with a host"
    if parts.scheme == "http" and not is_loopback(url):
        return "is plain http over the internet, which would send its credentials in clear text; use https"
    return ""
