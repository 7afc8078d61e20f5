"""The Railway dynamic provider against a local fake of Railway's GraphQL API, on loopback."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from providers.railway_variables import RailwayApiError, RailwayClient, RailwayVariablesProvider, changed_variables
from tests.loopback import running

TOKEN = "project-token-for-tests"
TARGET = {
    "project_id": "8df3b1d6-2317-4400-b267-56c4a42eed06",
    "environment_id": "9fb4baf0-809a-40ec-af32-751f50890802",
    "service_id": "4bd252dc-c4ac-4c2e-a52f-051804292035",
}


class FakeRailway(ThreadingHTTPServer):
    """Keeps one service's variables and every operation it was sent; can fail on demand."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.variables: dict[str, str] = {"PORT": "8080"}  # a variable the stack does not own
        self.calls: list[tuple[str, dict]] = []
        self.fail_with: int | None = None
        self.script = None  # a function of the handler that answers instead, for hostile or broken answers

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/graphql/v2"

    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]


class _Handler(BaseHTTPRequestHandler):
    server: FakeRailway

    def log_message(self, *_args) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's method name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        operation = re.search(r"(query|mutation)\s+(\w+)", body["query"]).group(2)
        variables = body["variables"]
        self.server.calls.append((operation, variables))
        if self.server.script:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.server.script(self)
            return None
        if self.server.fail_with:
            return self._reply(self.server.fail_with, {"errors": [{"message": "Internal server error"}]})
        if self.headers.get("Project-Access-Token") != TOKEN:
            # Railway answers an unauthorised GraphQL call with 200 and an error.
            return self._reply(200, {"errors": [{"message": "Not Authorized"}], "data": None})
        target = variables.get("input", variables)
        if {k: target.get(k) for k in ("projectId", "environmentId", "serviceId")} != {
            "projectId": TARGET["project_id"],
            "environmentId": TARGET["environment_id"],
            "serviceId": TARGET["service_id"],
        }:
            return self._reply(200, {"errors": [{"message": "Service not found"}], "data": None})
        if operation == "variables":
            return self._reply(200, {"data": {"variables": dict(self.server.variables)}})
        if operation == "variableCollectionUpsert":
            assert target["replace"] is False
            self.server.variables.update(target["variables"])
            return self._reply(200, {"data": {"variableCollectionUpsert": True}})
        if operation == "variableDelete":
            self.server.variables.pop(target["name"], None)
            return self._reply(200, {"data": {"variableDelete": True}})
        return self._reply(400, {"errors": [{"message": f"unknown operation {operation}"}]})

    def _reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def railway() -> Iterator[FakeRailway]:
    server = FakeRailway()
    with running(server):
        yield server


def provider(token: str = TOKEN) -> RailwayVariablesProvider:
    """The provider as the dynamic-provider host runs it: configured from the stack's secret config."""
    instance = RailwayVariablesProvider()
    instance.configure(ConfigureRequest(Config({"beacon-fleet:railwayToken": token}, "beacon-fleet")))
    return instance


def props(railway: FakeRailway, variables: dict[str, str]) -> dict:
    return {"api_url": railway.url, "token_type": "project", **TARGET, "variables": variables}


def test_create_writes_every_variable_in_one_upsert_and_keeps_the_services_others(railway):
    result = provider().create(props(railway, {"BEACON_ROUTER_CONFIG": "{}", "US_EAST_MODAL_KEY": "wk-1"}))
    # One read (nothing of the same name may be overwritten), then one write.
    assert railway.operations() == ["variables", "variableCollectionUpsert"]
    assert railway.variables == {"PORT": "8080", "BEACON_ROUTER_CONFIG": "{}", "US_EAST_MODAL_KEY": "wk-1"}
    assert result.id == "/".join(TARGET.values())
    assert result.outs["variables"] == {"BEACON_ROUTER_CONFIG": "{}", "US_EAST_MODAL_KEY": "wk-1"}


def test_update_sends_only_the_changed_variables_and_deletes_the_dropped_ones(railway):
    old = props(railway, {"BEACON_ROUTER_CONFIG": "{}", "A_KEY": "same", "B_KEY": "old", "GONE_KEY": "x"})
    provider().create(old)
    railway.calls.clear()
    new = props(railway, {"BEACON_ROUTER_CONFIG": "{}", "A_KEY": "same", "B_KEY": "new", "C_KEY": "added"})
    provider().update("id", old, new)
    assert railway.calls == [
        ("variables", _ids()),  # C_KEY is new to the stack: is it someone else's already?
        ("variableDelete", {"input": {**_ids(), "name": "GONE_KEY"}}),
        (
            "variableCollectionUpsert",
            {"input": {**_ids(), "variables": {"B_KEY": "new", "C_KEY": "added"}, "replace": False}},
        ),
    ]
    assert railway.variables == {
        "PORT": "8080",
        "BEACON_ROUTER_CONFIG": "{}",
        "A_KEY": "same",
        "B_KEY": "new",
        "C_KEY": "added",
    }


def test_an_unchanged_update_sends_nothing(railway):
    same = props(railway, {"A_KEY": "v"})
    assert provider().diff("id", same, same).changes is False
    provider().update("id", same, same)
    assert railway.calls == []


def test_diff_replaces_only_when_the_target_service_changes(railway):
    old = props(railway, {"A_KEY": "v"})
    assert provider().diff("id", old, {**old, "variables": {"A_KEY": "w"}}).replaces == []
    moved = provider().diff("id", old, {**old, "service_id": "5bd252dc-c4ac-4c2e-a52f-051804292035"})
    assert moved.changes is True and moved.replaces == ["service_id"]


def test_delete_removes_only_the_stacks_own_variables(railway):
    owned = props(railway, {"BEACON_ROUTER_CONFIG": "{}", "A_KEY": "v"})
    provider().create(owned)
    railway.variables.pop("A_KEY")  # removed by hand meanwhile: not an error
    provider().delete("id", owned)
    assert railway.variables == {"PORT": "8080"}
    assert [op for op in railway.operations() if op == "variableDelete"] == ["variableDelete"]


def test_a_refused_token_is_a_clear_error_that_never_shows_the_token(railway):
    with pytest.raises(RailwayApiError) as caught:
        provider(token="wrong-token").create(props(railway, {"A_KEY": "v"}))
    message = str(caught.value)
    assert "Not Authorized" in message and "railwayToken" in message
    assert "wrong-token" not in message
    assert railway.variables == {"PORT": "8080"}


def test_a_server_error_fails_the_operation_with_its_status_and_writes_nothing(railway):
    railway.fail_with = 502
    with pytest.raises(RailwayApiError, match=r"variables: HTTP 502"):
        provider().create(props(railway, {"A_KEY": "v"}))
    assert railway.variables == {"PORT": "8080"}


def test_no_token_anywhere_is_refused_before_any_request(railway, monkeypatch):
    monkeypatch.delenv("RAILWAY_API_TOKEN", raising=False)
    with pytest.raises(RailwayApiError, match="no Railway token"):
        provider(token="").create(props(railway, {"A_KEY": "v"}))
    assert railway.calls == []


def test_an_unreachable_api_is_named_by_its_url():
    closed = {"api_url": "http://127.0.0.1:9/graphql/v2", "token_type": "project", **TARGET, "variables": {}}
    with pytest.raises(RailwayApiError, match=r"cannot reach Railway at http://127\.0\.0\.1:9/graphql/v2"):
        provider().create(closed)


def test_changed_variables_is_the_minimal_write():
    assert changed_variables({"A": "1", "B": "2"}, {"A": "1", "B": "3", "C": "4"}) == ({"B": "3", "C": "4"}, [])
    assert changed_variables({"A": "1", "B": "2"}, {"A": "1"}) == ({}, ["B"])


def _ids() -> dict[str, str]:
    return {
        "projectId": TARGET["project_id"],
        "environmentId": TARGET["environment_id"],
        "serviceId": TARGET["service_id"],
    }


# --- Hostile or broken answers ---------------------------------------------------------------------------------


class Recorder(ThreadingHTTPServer):
    """Another host: records every request it gets, whatever the method."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RecorderHandler)
        self.seen: list[tuple[str, dict]] = []


class _RecorderHandler(BaseHTTPRequestHandler):
    server: Recorder

    def log_message(self, *_args) -> None:
        pass

    def _any(self) -> None:
        self.server.seen.append((self.command, dict(self.headers)))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = _any  # noqa: N815 - http.server's method names


@pytest.fixture
def elsewhere() -> Iterator[Recorder]:
    server = Recorder()
    with running(server):
        yield server


def answer(status: int, body: bytes, length: int | None = None, **headers: str):
    def script(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body) if length is None else length))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    return script


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_never_carries_the_token_to_another_host(railway, elsewhere, status):
    railway.script = answer(status, b"", Location=f"http://127.0.0.1:{elsewhere.server_address[1]}/graphql/v2")
    with pytest.raises(RailwayApiError, match=rf"redirect \(HTTP {status}\).*not followed"):
        provider().create(props(railway, {"A_KEY": "v"}))
    assert elsewhere.seen == []


def test_error_text_from_railway_never_shows_the_token_or_any_variable_value(railway):
    echoed = f"bad header Project-Access-Token={TOKEN}; cannot set A_KEY=wk-secret-value \x1b]0;owned\x07"
    railway.script = answer(200, json.dumps({"errors": [{"message": echoed}]}).encode())
    with pytest.raises(RailwayApiError) as caught:
        provider().create(props(railway, {"A_KEY": "wk-secret-value"}))
    message = str(caught.value)
    assert TOKEN not in message and "wk-secret-value" not in message and "\x1b" not in message
    assert "[redacted]" in message and "cannot set A_KEY" in message


def test_an_old_value_echoed_back_during_an_update_is_scrubbed_too(railway):
    old = props(railway, {"A_KEY": "old-secret-value"})
    railway.script = answer(200, b'{"errors": [{"message": "conflict with old-secret-value"}]}')
    with pytest.raises(RailwayApiError) as caught:
        provider().update("id", old, props(railway, {"A_KEY": "new-secret-value"}))
    assert "old-secret-value" not in str(caught.value)


def test_a_token_that_cannot_be_a_header_is_refused_without_showing_it(railway):
    with pytest.raises(RailwayApiError) as caught:
        provider(token="line-one\r\nX-Injected: yes").create(props(railway, {"A_KEY": "v"}))
    assert "line-one" not in str(caught.value) and railway.calls == []


def _broken_status_line(handler: BaseHTTPRequestHandler) -> None:
    handler.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")


def _hang_up(handler: BaseHTTPRequestHandler) -> None:
    handler.close_connection = True


BROKEN_ANSWERS = {
    "HTML, not JSON": answer(200, b"<html>maintenance</html>"),
    "not UTF-8": answer(200, b'{"data": {"variables": {"A": "\xff"}}}'),
    "a JSON list": answer(200, b"[1, 2]"),
    "errors that are not a list": answer(200, b'{"errors": "boom"}'),
    "data that is not an object": answer(200, b'{"data": "yes"}'),
    "variables that are not a map": answer(200, b'{"data": {"variables": ["A_KEY"]}}'),
    "a body cut short": answer(200, b'{"data": {"vari', length=400),
    "a broken status line": _broken_status_line,
    "no answer at all": _hang_up,
}


@pytest.mark.parametrize("case", sorted(BROKEN_ANSWERS))
def test_every_broken_answer_is_the_providers_own_error_not_a_raw_exception(railway, case):
    railway.script = BROKEN_ANSWERS[case]
    with pytest.raises(RailwayApiError):
        provider().delete("id", props(railway, {"A_KEY": "v"}))


def test_an_answer_trickling_past_the_timeout_is_cut_off_at_the_deadline(railway):
    body = json.dumps({"data": {"variables": {}}}).encode()

    def trickle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for byte in body:  # 50 ms a byte: no single read waits long, the whole answer takes over a second
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(0.05)

    railway.script = trickle
    started = time.monotonic()
    with pytest.raises(RailwayApiError, match=r"did not answer variables within 0\.3 s"):
        RailwayClient(railway.url, TOKEN, "project", timeout=0.3).variables(TARGET)
    assert time.monotonic() - started < 1.0


# --- Variables the stack did not create ------------------------------------------------------------------------


def test_create_refuses_to_overwrite_a_variable_the_service_already_has_with_another_value(railway):
    railway.variables["OPENAI_API_KEY"] = "someone-elses-key"
    with pytest.raises(RailwayApiError) as caught:
        provider().create(props(railway, {"OPENAI_API_KEY": "the-stacks-key", "A_KEY": "v"}))
    message = str(caught.value)
    assert "OPENAI_API_KEY" in message and "refusing to overwrite" in message and "To let this stack own it" in message
    assert "someone-elses-key" not in message and "the-stacks-key" not in message
    assert railway.variables == {"PORT": "8080", "OPENAI_API_KEY": "someone-elses-key"}
    assert "variableCollectionUpsert" not in railway.operations()


def test_create_adopts_a_variable_already_set_to_the_declared_value(railway):
    railway.variables["A_KEY"] = "v"
    provider().create(props(railway, {"A_KEY": "v", "B_KEY": "w"}))
    assert railway.variables == {"PORT": "8080", "A_KEY": "v", "B_KEY": "w"}


def test_an_update_adding_a_variable_the_service_already_has_refuses_to_overwrite_it(railway):
    old = props(railway, {"A_KEY": "v"})
    provider().create(old)
    railway.variables["PORT"] = "8080"
    with pytest.raises(RailwayApiError, match=r"already has PORT, which this stack did not create"):
        provider().update("id", old, props(railway, {"A_KEY": "v", "PORT": "9000"}))
    assert railway.variables["PORT"] == "8080"
