"""The EAS token read: Alibaba Cloud's own EAS SDK against a local stand-in of the EAS API on 127.0.0.1.

The stand-in answers DescribeService (`GET /api/v2/services/<region>/<name>`) the way the API's model describes it
(alibabacloud_eas20210701.models.Service: `AccessToken`), or with an API error; the SDK signs and sends the
request for real, so the path, the credentials it carries and the parsing are what `pulumi up` would use.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from providers import eas_token
from providers.eas_token import EasTokenError, EasTokenProvider

KEYS = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "deployer-key-id", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "deployer-secret-value"}
TOKEN = "eas-generated-token-value"


class EasApi(ThreadingHTTPServer):
    services: dict[str, dict]  # "<region>/<name>" -> the Service body
    requests: list[tuple[str, dict[str, str]]]


def _handler(api: EasApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            api.requests.append((self.path, dict(self.headers)))
            found = api.services.get(self.path.removeprefix("/api/v2/services/"))
            status, body = (200, found) if found else (404, {"Code": "InvalidService.NotFound", "Message": "nope"})
            data = json.dumps({"RequestId": "req-1", **body}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args) -> None:
            return None

    return Handler


@pytest.fixture
def api() -> Iterator[EasApi]:
    server = EasApi(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.RequestHandlerClass = _handler(server)
    running = {"ServiceName": "beacon_svc", "Status": "Running", "AccessToken": TOKEN}
    server.services = {"cn-beijing/beacon_svc": running}
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


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
    assert failed.value.__suppress_context__  # the SDK's exception, with the request in it, is not chained


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
