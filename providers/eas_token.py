"""A Pulumi dynamic provider that reads the token PAI-EAS generated for a service, as a secret, during `pulumi up`.

Why: a token written into `serviceConfig` never round-trips. EAS hides `token` when it exports a service's config,
and the alicloud provider stores that export and compares it with the program's JSON, so every later preview
would show the config changed and every `up` would roll the service (../shared/reference/
real-cloud-behaviour.md). Left out of the config, EAS generates the token itself; pulumi_alicloud 4.0.0 has no
output or invoke that returns it, but the EAS API does: DescribeService answers `AccessToken`. This reads it on the
deploying machine, signed by Alibaba Cloud's own SDK (alibabacloud-tea-openapi's ACS3-HMAC-SHA256, the same
signature alibabacloud-eas20210701's DescribeService sends) and sent by providers/bounded_http.

Why not the SDK's own transport: darabonba-core 1.0.9 sends through `requests` `Session.send`, which follows
redirects (allow_redirects defaults to True and the SDK offers no option to turn it off), so a 302 from the API
or from the proxy it takes from HTTPS_PROXY sent the STS token (`x-acs-security-token`) to another host and the
token that host answered was returned; and its timeouts bound each socket read, not the exchange, and it reads
a body of any size. Here the request goes to the regional EAS endpoint only (`pai-eas.<region>.aliyuncs.com`,
the SDK's own endpoint map), a redirect is an error, a proxy is only a CONNECT tunnel to that endpoint (TLS to
its name, end to end), the whole exchange has a deadline and the answer a size cap.

Credentials: the deployer's keys from the environment (fleet.credentials.alibaba_keys), never inputs or state;
the deployer needs `eas:DescribeService`. The token is the only output that matters and is a secret
(`additional_secret_outputs`). A token reset in the console reaches the router after `pulumi refresh` of the
region stack and an `up` of the router. Errors name the service and the API's code, never a credential: every
text that comes from the server is scrubbed of the credentials sent and of control characters, and bounded
(providers/redact.scrub).

Offline (`make plan`, tests) the mock engine never calls a dynamic provider; the simulated cloud answers a
stand-in token.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from fleet import credentials, urls
from providers import bounded_http
from providers.redact import scrub

REREAD_ON = ("region", "service_name", "service_created", "api_endpoint")
TIMEOUT_S = 30.0  # the whole exchange (connect, wait, read): a hang must not hold `pulumi up`
MAX_ANSWER_BYTES = 256 * 1024  # DescribeService answers one service's description: a few KiB
SHOWN_CODE_CHARS = 80  # an API error code is a short identifier (InvalidService.NotFound)
API_VERSION = "2021-07-01"
SIGNATURE_ALGORITHM = "ACS3-HMAC-SHA256"
# Alibaba's region ids (cn-beijing, ap-southeast-1) and EAS service names (letters, digits, underscores).
_REGION = re.compile(r"[a-z]{2}(-[a-z0-9]+){1,4}")
_SERVICE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,127}")


class EasTokenError(Exception):
    """Why the token could not be read; safe to show (no credential, no token)."""


def regional_endpoint(region: str) -> str:
    """The EAS API's regional endpoint, as alibabacloud-eas20210701 7.0.0's Client names it (its endpoint map)."""
    return f"https://pai-eas.{region}.aliyuncs.com"


def read_token(
    region: str,
    service_name: str,
    api_endpoint: str = "",
    environ: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT_S,
    max_answer: int = MAX_ANSWER_BYTES,
) -> str:
    """The service's token, from DescribeService at the regional endpoint, within `timeout` seconds overall.

    `api_endpoint` empty: the regional endpoint. Otherwise only a loopback URL (a local stand-in, in tests)."""
    env = os.environ if environ is None else environ
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise EasTokenError(f"'{scrub(str(region), [], limit=40)}' is not an Alibaba Cloud region id")
    if not isinstance(service_name, str) or not _SERVICE.fullmatch(service_name):
        raise EasTokenError(f"'{scrub(str(service_name), [], limit=140)}' is not an EAS service name")
    if api_endpoint and not (urls.is_loopback(api_endpoint) and urlsplit(api_endpoint).path in ("", "/")):
        raise EasTokenError(
            f"the EAS token is read only from the regional endpoint {regional_endpoint(region)}"
            " (another endpoint only on loopback, for a local stand-in)"
        )
    keys = credentials.alibaba_keys(env)
    if keys is None:
        raise EasTokenError(
            f"no Alibaba Cloud credentials to read EAS service {service_name}'s token:"
            f" {credentials.MISSING_ALIBABA_KEYS}"
        )
    base = (api_endpoint or regional_endpoint(region)).rstrip("/")
    host = urlsplit(base).netloc
    path = f"/api/v2/services/{quote(region, safe='~')}/{quote(service_name, safe='~')}"
    headers = _signed_headers(host, path, keys)
    sent = [keys.access_key_id, keys.access_key_secret, keys.security_token or "", headers["Authorization"]]
    proxy = env.get("HTTPS_PROXY") or env.get("https_proxy") or ""
    try:
        response = bounded_http.request("GET", base + path, headers, None, timeout, max_answer, https_proxy=proxy)
    except bounded_http.ExchangeError as error:
        if error.kind == "too-large":
            raise EasTokenError(
                f"the EAS API in {region} answered more than {max_answer} bytes for service {service_name};"
                " refused unread"
            ) from None
        raise EasTokenError(
            f"could not reach the EAS API in {region} at {host} to read service {service_name}'s token"
            f" ({error.kind}: {scrub(str(error), sent, limit=120)}); the deploying machine needs a route to it"
        ) from None
    if response.is_redirect:
        raise EasTokenError(
            f"the EAS API at {host} answered HTTP {response.status} (a redirect) for service {service_name};"
            " not followed: a token is accepted only from the regional endpoint that was called"
        )
    answer = _json_object(response.body)
    if response.status != 200:
        code = answer.get("Code") or answer.get("code") or "no error code"
        raise EasTokenError(
            f"DescribeService for EAS service {service_name} in {region} failed"
            f" ({scrub(str(code), sent, limit=SHOWN_CODE_CHARS)}, HTTP {response.status});"
            " check that the service exists and that the deployer may call eas:DescribeService"
        )
    token = answer.get("AccessToken")
    if token is None or token == "":
        raise EasTokenError(f"EAS answered no token for service {service_name} in {region}")
    if not isinstance(token, str) or not token.isascii() or not token.isprintable() or len(token) > 1024:
        raise EasTokenError(
            f"EAS answered a token for service {service_name} in {region} that is not a printable ASCII string"
            " of at most 1024 characters; refused"
        )
    return token


def _signed_headers(host: str, path: str, keys: credentials.AlibabaKeys) -> dict[str, str]:
    """DescribeService's headers, signed the way alibabacloud-tea-openapi 0.4.6's do_request signs a GET."""
    from alibabacloud_tea_openapi.utils import Utils
    from darabonba.request import DaraRequest

    request = DaraRequest()
    request.method = "GET"
    request.pathname = path
    request.query = {}
    payload = Utils.hash(b"", SIGNATURE_ALGORITHM).hex()
    request.headers = {
        "host": host,
        "x-acs-version": API_VERSION,
        "x-acs-action": "DescribeService",
        "user-agent": Utils.get_user_agent(None),
        "x-acs-date": Utils.get_timestamp(),
        "x-acs-signature-nonce": Utils.get_nonce(),
        "accept": "application/json",
        "x-acs-content-sha256": payload,
    }
    if keys.security_token:
        request.headers["x-acs-accesskey-id"] = keys.access_key_id
        request.headers["x-acs-security-token"] = keys.security_token
    request.headers["Authorization"] = Utils.get_authorization(
        request, SIGNATURE_ALGORITHM, payload, keys.access_key_id, keys.access_key_secret
    )
    return request.headers


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return {}
    return answer if isinstance(answer, dict) else {}


def _with_token(props: dict[str, Any]) -> dict[str, Any]:
    return {**props, "token": read_token(props["region"], props["service_name"], props.get("api_endpoint") or "")}


class EasTokenProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"{props['region']}/{props['service_name']}", outs=_with_token(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        # `pulumi refresh`: the token EAS holds now, e.g. after a reset in the console.
        return ReadResult(id_=id_, outs=_with_token(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in REREAD_ON if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=_with_token(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # reading created nothing; the service's own deletion takes its token with it


class EasServiceToken(pulumi.dynamic.Resource, module="eas", name="ServiceToken"):
    """The token of one EAS service, read from EAS once the service exists; a secret."""

    token: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        region: str,
        service_name: pulumi.Input[str],
        service_created: pulumi.Input[str],
        api_endpoint: str = "",
        opts: pulumi.ResourceOptions | None = None,
    ):
        props = {
            "region": region,
            "service_name": service_name,  # the service's id: waits for it to exist
            "service_created": service_created,  # a re-created service has a new token: read it again
            "api_endpoint": api_endpoint,
            "token": None,
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=["token"])
        super().__init__(EasTokenProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))
