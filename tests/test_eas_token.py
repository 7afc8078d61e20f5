"""The EAS token read: signed by Alibaba Cloud's own SDK, against a local stand-in of the EAS API on 127.0.0.1.

The stand-in answers DescribeService (`GET /api/v2/services/<region>/<name>`) the way the API's model describes it
(alibabacloud_eas20210701.models.Service: `AccessToken`), or with an API error; the request is signed and sent
for real, so the path, the credentials it carries and the parsing are what `pulumi up` would use. Hostile
stand-ins redirect, echo the request's headers into the error code, trickle, or answer too much.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from providers import eas_token
from providers.eas_token import EasTokenError, EasTokenProvider
from tests.loopback import answer_alibaba_json, running

KEYS = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "deployer-key-id", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "deployer-secret-value"}
TOKEN = "eas-generated-token-value"


class EasApi(ThreadingHTTPServer):
    services: dict[str, dict]  # "<region>/<name>" -> the Service body
    requests: list[tuple[str, dict[str, str]]]
    behave: Callable[[BaseHTTPRequestHandler], bool] | None  # answers instead of the API when it returns True


def _handler(api: EasApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            api.requests.append((self.path, dict(self.headers)))
            if api.behave is not None and api.behave(self):
                return
            found = api.services.get(self.path.removeprefix("/api/v2/services/"))
            status, body = (200, found) if found else (404, {"Code": "InvalidService.NotFound", "Message": "nope"})
            answer_alibaba_json(self, status, body)

        def log_message(self, *_args) -> None:
            return None

    return Handler


@pytest.fixture
def api() -> Iterator[EasApi]:
    server = EasApi(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.RequestHandlerClass = _handler(server)
    service = {"ServiceName": "beacon_svc", "Status": "Running", "AccessToken": TOKEN}
    server.services = {"cn-beijing/beacon_svc": service}
    server.requests = []
    server.behave = None
    with running(server):
        yield server


def endpoint(api: EasApi) -> str:
    return f"http://127.0.0.1:{api.server_port}"


def props(api: EasApi, name: str = "beacon_svc") -> dict:
    return {"region": "cn-beijing", "service_name": name, "service_created": "t1", "api_endpoint": endpoint(api)}


def test_the_token_is_what_describe_service_answers_signed_with_the_deployers_keys(api, monkeypatch):
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "sts-session-token")
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    created = EasTokenProvider().create(props(api))
    assert created.outs["token"] == TOKEN and created.id == "cn-beijing/beacon_svc"
    path, headers = api.requests[-1]
    assert path == "/api/v2/services/cn-beijing/beacon_svc"
    assert headers["x-acs-action"] == "DescribeService" and headers["x-acs-version"] == "2021-07-01"
    assert headers["Authorization"].startswith("ACS3-HMAC-SHA256 Credential=deployer-key-id,")
    assert headers["x-acs-security-token"] == "sts-session-token"
    assert "deployer-secret-value" not in json.dumps(headers)  # signed with, never sent


def test_the_alicloud_providers_variable_names_work_too(api):
    environ = {"ALICLOUD_ACCESS_KEY": "k", "ALICLOUD_SECRET_KEY": "s"}
    assert eas_token.read_token("cn-beijing", "beacon_svc", endpoint(api), environ) == TOKEN


def test_a_refresh_reads_the_token_eas_holds_now(api, monkeypatch):
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    api.services["cn-beijing/beacon_svc"]["AccessToken"] = "reset-in-the-console"
    assert EasTokenProvider().read("cn-beijing/beacon_svc", props(api)).outs["token"] == "reset-in-the-console"


def test_a_missing_service_names_the_service_the_api_code_and_the_permission_and_no_credential(api):
    with pytest.raises(EasTokenError) as failed:
        eas_token.read_token("cn-beijing", "gone", endpoint(api), KEYS)
    message = str(failed.value)
    assert "gone" in message and "InvalidService.NotFound" in message and "HTTP 404" in message
    assert "eas:DescribeService" in message
    assert not any(value in message for value in KEYS.values())
    assert failed.value.__context__ is None or failed.value.__suppress_context__  # nothing with the request chained


def test_an_unreachable_api_says_where_it_tried(api):
    with pytest.raises(EasTokenError, match="could not reach the EAS API in cn-beijing at 127.0.0.1:9"):
        eas_token.read_token("cn-beijing", "beacon_svc", "http://127.0.0.1:9", KEYS)


def test_no_credentials_name_the_variables_to_set():
    with pytest.raises(EasTokenError, match="ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
        eas_token.read_token("cn-beijing", "beacon_svc", "", {"ALIBABA_CLOUD_ACCESS_KEY_ID": "only-half"})


def test_a_service_without_a_token_is_an_error_not_an_empty_secret(api):
    api.services["cn-beijing/beacon_svc"].pop("AccessToken")
    with pytest.raises(EasTokenError, match="no token for service beacon_svc"):
        eas_token.read_token("cn-beijing", "beacon_svc", endpoint(api), KEYS)


@pytest.mark.parametrize(
    ("change", "reread"),
    [({}, False), ({"service_created": "t2"}, True), ({"service_name": "other"}, True), ({"token": "x"}, False)],
)
def test_the_token_is_read_again_when_the_service_is_another_or_re_created(change, reread):
    olds = {"region": "cn-beijing", "service_name": "beacon_svc", "service_created": "t1", "api_endpoint": ""}
    diff = EasTokenProvider().diff("id", {**olds, "token": TOKEN}, {**olds, **change})
    assert diff.changes is reread and not diff.replaces


# ---- hostile stand-ins (issue 27: redirects, echoed headers, slow and oversized answers) ----------------------

STS = {**KEYS, "ALIBABA_CLOUD_SECURITY_TOKEN": "sts-session-token-value"}
SENT_SECRETS = (*KEYS.values(), STS["ALIBABA_CLOUD_SECURITY_TOKEN"])


def _server(api_fixture_like: Callable[[], EasApi]) -> Iterator[EasApi]:
    server = api_fixture_like()
    with running(server):
        yield server


def _stand_in() -> EasApi:
    server = EasApi(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.RequestHandlerClass = _handler(server)
    server.services = {"cn-beijing/beacon_svc": {"AccessToken": "token-from-elsewhere"}}
    server.requests = []
    server.behave = None
    return server


@pytest.fixture
def elsewhere() -> Iterator[EasApi]:
    """Another host, answering a token to whoever asks, and recording what it received."""
    yield from _server(_stand_in)


def _answer(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed_and_no_credential_reaches_the_other_host(api, elsewhere, status):
    target = f"{endpoint(elsewhere)}/api/v2/services/cn-beijing/beacon_svc"
    api.behave = lambda h: _answer(h, status, b"", {"Location": target}) or True
    started = time.monotonic()
    with pytest.raises(EasTokenError, match="redirect") as failed:
        eas_token.read_token("cn-beijing", "beacon_svc", endpoint(api), STS)
    assert elsewhere.requests == []  # the STS token and the signature never left for the other host
    assert "token-from-elsewhere" not in str(failed.value)
    assert not any(secret in str(failed.value) for secret in SENT_SECRETS)
    assert time.monotonic() - started < 5


class _Proxy(ThreadingHTTPServer):
    connects: list[str]
    location: str


@pytest.fixture
def redirecting_proxy(elsewhere) -> Iterator[_Proxy]:
    """An HTTPS_PROXY that answers CONNECT with a redirect to the other host."""

    class Handler(BaseHTTPRequestHandler):
        def do_CONNECT(self) -> None:  # noqa: N802 (http.server's name)
            proxy.connects.append(self.path)
            _answer(self, 302, b"", {"Location": proxy.location})

        def log_message(self, *_args) -> None:
            return None

    proxy = _Proxy(("127.0.0.1", 0), Handler)
    proxy.connects, proxy.location = [], f"{endpoint(elsewhere)}/api/v2/services/cn-beijing/beacon_svc"
    with running(proxy):
        yield proxy


def test_a_proxy_that_redirects_ends_the_read_and_no_credential_reaches_the_other_host(redirecting_proxy, elsewhere):
    environ = {**STS, "HTTPS_PROXY": f"http://127.0.0.1:{redirecting_proxy.server_port}"}
    with pytest.raises(EasTokenError, match="could not reach the EAS API") as failed:
        # https on loopback: the proxy is used as a CONNECT tunnel only, and answers it with a redirect
        eas_token.read_token("cn-beijing", "beacon_svc", "https://127.0.0.1:9", environ, timeout=5)
    assert redirecting_proxy.connects == ["127.0.0.1:9"]  # asked for a tunnel to the endpoint, nothing else
    assert elsewhere.requests == []
    assert not any(secret in str(failed.value) for secret in SENT_SECRETS)


@pytest.mark.parametrize(
    "where", ["https://evil.example", "http://localhost:1@evil.example:8080", "https://pai-eas.cn-beijing.evil"]
)
def test_the_token_is_read_only_from_the_regional_endpoint_or_a_local_stand_in(where):
    with pytest.raises(EasTokenError, match="only from the regional endpoint https://pai-eas.cn-beijing.aliyuncs.com"):
        eas_token.read_token("cn-beijing", "beacon_svc", where, STS)


def _echo_headers(handler: BaseHTTPRequestHandler) -> bool:
    echoed = "; ".join(f"{k}={v}" for k, v in handler.headers.items())
    body = {"RequestId": "r", "Code": f"Echo {echoed}", "Message": echoed}
    _answer(handler, 400, json.dumps(body).encode(), {"Content-Type": "application/json"})
    return True


def test_an_error_code_echoing_the_request_shows_no_credential_and_is_bounded(api):
    api.behave = _echo_headers
    with pytest.raises(EasTokenError, match="HTTP 400") as failed:
        eas_token.read_token("cn-beijing", "beacon_svc", endpoint(api), STS)
    message = str(failed.value)
    _path, sent = api.requests[-1]
    assert not any(secret in message for secret in SENT_SECRETS)
    assert sent["Authorization"] not in message and sent["Authorization"].split("Signature=")[1] not in message
    assert len(message) < 400


@pytest.mark.parametrize(
    "code", ["\x1b]0;owned\x07\x1b[2J", "a\nFAKE: all good\r", "\u202eevil", "x" * 5000, {"nested": "object"}]
)
def test_an_error_code_with_control_characters_or_any_length_is_shown_escaped_and_bounded(api, code):
    api.behave = lambda h: _answer(h, 403, json.dumps({"Code": code}).encode()) or True
    with pytest.raises(EasTokenError, match="HTTP 403") as failed:
        eas_token.read_token("cn-beijing", "beacon_svc", endpoint(api), KEYS)
    message = str(failed.value)
    assert message.isprintable() and len(message) < 400


@pytest.mark.parametrize("token", [12345, ["a-token"], {"t": "x"}, True, "tok\nen", "\x1b[31mtoken", "t" * 5000])
def test_a_token_that_is_not_a_printable_string_is_refused(api, token):
    api.services["cn-beijing/beacon_svc"]["AccessToken"] = token
    with pytest.raises(EasTokenError, match="not a printable ASCII string") as failed:
        eas_token.read_token("cn-beijing", "beacon_svc", endpoint(api), KEYS)
    assert str(token)[:20] not in str(failed.value)


def _trickle(handler: BaseHTTPRequestHandler) -> bool:
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    with contextlib.suppress(OSError):
        for _ in range(1000):
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(0.05)  # each read well inside a per-read timeout; the whole far past the deadline
    return True


def test_a_slow_server_is_cut_off_at_the_overall_deadline(api):
    api.behave = _trickle
    started = time.monotonic()
    with pytest.raises(EasTokenError, match="timeout"):
        eas_token.read_token("cn-beijing", "beacon_svc", endpoint(api), KEYS, timeout=0.3)
    assert time.monotonic() - started < 1.5


def test_a_server_that_never_answers_is_cut_off_at_the_overall_deadline():
    listener = socket.create_server(("127.0.0.1", 0))  # accepts connections, never reads or answers
    try:
        started = time.monotonic()
        with pytest.raises(EasTokenError, match="timeout"):
            url = f"http://127.0.0.1:{listener.getsockname()[1]}"
            eas_token.read_token("cn-beijing", "beacon_svc", url, KEYS, timeout=0.3)
        assert time.monotonic() - started < 1.5
    finally:
        listener.close()


def test_an_oversized_answer_is_refused_before_it_is_read_whole(api):
    api.services["cn-beijing/beacon_svc"]["Padding"] = "x" * (eas_token.MAX_ANSWER_BYTES + 1)
    with pytest.raises(EasTokenError, match=f"more than {eas_token.MAX_ANSWER_BYTES} bytes"):
        eas_token.read_token("cn-beijing", "beacon_svc", endpoint(api), KEYS)


def test_the_deadline_and_the_cap_are_stated_bounds():
    assert eas_token.TIMEOUT_S <= 60 and eas_token.MAX_ANSWER_BYTES <= 1 << 20
