"""Railway service variables as a Pulumi dynamic provider, over Railway's public GraphQL API.

Railway has no Pulumi provider; the hybrid router runs there and reads its configuration and credentials
from service variables. This resource owns a named set of variables on one service: create upserts them
all, update writes only the variables whose value changed and deletes the ones no longer declared, and
delete removes only its own variables, never the service's others.

The token never becomes an input or a pickled field: it is read in `configure` from the stack's secret
config (`railwayToken`), or from RAILWAY_API_TOKEN when the provider runs outside a stack. Variable values
are inputs because they are the desired state; they are secret inputs, so Pulumi keeps them encrypted.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

import pulumi
from pulumi.dynamic import ConfigureRequest, CreateResult, DiffResult, ResourceProvider, UpdateResult

ROUTER_CONFIG_VARIABLE = "BEACON_ROUTER_CONFIG"
TOKEN_CONFIG_KEY = "railwayToken"
TOKEN_ENV = "RAILWAY_API_TOKEN"
REQUEST_TIMEOUT_SECONDS = 30
TARGET_FIELDS = ("project_id", "environment_id", "service_id")

_VARIABLES = """query variables($projectId: String!, $environmentId: String!, $serviceId: String) {
  variables(projectId: $projectId, environmentId: $environmentId, serviceId: $serviceId)
}"""
_UPSERT = """mutation variableCollectionUpsert($input: VariableCollectionUpsertInput!) {
  variableCollectionUpsert(input: $input)
}"""
_DELETE = """mutation variableDelete($input: VariableDeleteInput!) {
  variableDelete(input: $input)
}"""


class RailwayApiError(RuntimeError):
    """Railway refused or failed a request; the message says which and never carries the token."""


class RailwayClient:
    """The four GraphQL operations the resource needs, with bounded timeouts and readable errors."""

    def __init__(self, api_url: str, token: str, token_type: str, timeout: float = REQUEST_TIMEOUT_SECONDS):
        if not token:
            raise RailwayApiError(
                f"no Railway token: set the stack's secret {TOKEN_CONFIG_KEY}"
                f" (`pulumi config set --secret {TOKEN_CONFIG_KEY}`) or {TOKEN_ENV}"
            )
        self.api_url = api_url
        self.timeout = timeout
        # Project tokens have their own header; account and workspace tokens are bearer tokens.
        auth = {"Project-Access-Token": token} if token_type == "project" else {"Authorization": f"Bearer {token}"}
        self._headers = {"Content-Type": "application/json", "Accept": "application/json", **auth}

    def variables(self, target: dict[str, str]) -> dict[str, str]:
        return self._call(_VARIABLES, _target_args(target))["variables"] or {}

    def upsert(self, target: dict[str, str], variables: dict[str, str]) -> None:
        # One collection upsert: one redeploy of the router, not one per variable; replace=False keeps the
        # service's other variables.
        self._call(_UPSERT, {"input": {**_target_args(target), "variables": variables, "replace": False}})

    def delete(self, target: dict[str, str], name: str) -> None:
        self._call(_DELETE, {"input": {**_target_args(target), "name": name}})

    def _call(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables}).encode()
        request = urllib.request.Request(self.api_url, data=body, headers=self._headers, method="POST")
        operation = query.split("(", 1)[0].split()[-1]
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - https, or loopback
                payload = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            if error.code in (401, 403):
                raise RailwayApiError(
                    f"Railway refused the token ({operation}: HTTP {error.code}); check {TOKEN_CONFIG_KEY} and"
                    " railwayTokenType (project tokens only reach their own project)"
                ) from None
            raise RailwayApiError(f"Railway API error ({operation}: HTTP {error.code} {error.reason})") from None
        except (urllib.error.URLError, TimeoutError) as error:
            reason = getattr(error, "reason", error)
            raise RailwayApiError(f"cannot reach Railway at {self.api_url} ({operation}): {reason}") from None
        except json.JSONDecodeError:
            raise RailwayApiError(f"Railway answered {operation} with something that is not JSON") from None
        errors = payload.get("errors") or []
        if errors:
            messages = "; ".join(str(e.get("message", e)) for e in errors)
            hint = f" (check {TOKEN_CONFIG_KEY} and railwayTokenType)" if "authorized" in messages.lower() else ""
            raise RailwayApiError(f"Railway rejected {operation}: {messages}{hint}")
        return payload.get("data") or {}


def _target_args(target: dict[str, str]) -> dict[str, str]:
    return {
        "projectId": target["project_id"],
        "environmentId": target["environment_id"],
        "serviceId": target["service_id"],
    }


def changed_variables(olds: dict[str, str], news: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """What an update writes: the variables whose value is new or different, and the names to delete."""
    changed = {name: value for name, value in sorted(news.items()) if olds.get(name) != value}
    removed = sorted(set(olds) - set(news))
    return changed, removed


class RailwayVariablesProvider(ResourceProvider):
    def __init__(self) -> None:
        self._token = ""

    def configure(self, req: ConfigureRequest) -> None:
        self._token = req.config.get(TOKEN_CONFIG_KEY) or ""

    def _client(self, props: dict[str, Any]) -> RailwayClient:
        token = self._token or os.environ.get(TOKEN_ENV, "")
        return RailwayClient(props["api_url"], token, props["token_type"])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in TARGET_FIELDS if olds.get(k) != news.get(k)]
        changed = replaces + [k for k in ("variables",) if olds.get(k) != news.get(k)]
        # The old service keeps its variables until the new one has them; a router never loses its config.
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        self._client(props).upsert(props, dict(props["variables"]))
        return CreateResult(id_="/".join(props[k] for k in TARGET_FIELDS), outs=dict(props))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        client = self._client(news)
        changed, removed = changed_variables(dict(olds.get("variables") or {}), dict(news["variables"]))
        for name in removed:
            client.delete(news, name)
        if changed:
            client.upsert(news, changed)
        return UpdateResult(outs=dict(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        client = self._client(props)
        present = client.variables(props)
        for name in sorted(props.get("variables") or {}):
            if name in present:  # already gone (deleted by hand): nothing to do
                client.delete(props, name)


class RailwayServiceVariables(pulumi.dynamic.Resource, module="railway", name="ServiceVariables"):
    """The variables this stack owns on one Railway service; `variables` is a secret map of name to value."""

    variables: pulumi.Output[dict[str, str]]

    def __init__(
        self,
        name: str,
        api_url: str,
        project_id: str,
        environment_id: str,
        service_id: str,
        token_type: str,
        variables: pulumi.Input[dict[str, str]],
        opts: pulumi.ResourceOptions | None = None,
    ):
        props = {
            "api_url": api_url,
            "project_id": project_id,
            "environment_id": environment_id,
            "service_id": service_id,
            "token_type": token_type,
            "variables": pulumi.Output.secret(variables),
        }
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["variables"]))
        super().__init__(RailwayVariablesProvider(), name, props, opts)
