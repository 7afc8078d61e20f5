"""The Railway dynamic provider against a local fake of Railway's GraphQL API, on loopback."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from providers.railway_variables import RailwayApiError, RailwayVariablesProvider, changed_variables

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
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def provider(token: str = TOKEN) -> RailwayVariablesProvider:
    """The provider as the dynamic-provider host runs it: configured from the stack's secret config."""
    instance = RailwayVariablesProvider()
    instance.configure(ConfigureRequest(Config({"beacon-fleet:railwayToken": token}, "beacon-fleet")))
    return instance


def props(railway: FakeRailway, variables: dict[str, str]) -> dict:
    return {"api_url": railway.url, "token_type": "project", **TARGET, "variables": variables}


def test_create_writes_every_variable_in_one_upsert_and_keeps_the_services_others(railway):
    result = provider().create(props(railway, {"BEACON_ROUTER_CONFIG": "{}", "US_EAST_MODAL_KEY": "wk-1"}))
    assert railway.operations() == ["variableCollectionUpsert"]
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
    with pytest.raises(RailwayApiError, match=r"variableCollectionUpsert: HTTP 502"):
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
