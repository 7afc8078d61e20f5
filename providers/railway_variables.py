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
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import pulumi
from pulumi.dynamic import ConfigureRequest, CreateResult, DiffResult, ResourceProvider, UpdateResult

from providers import bounded_http
from providers.redact import scrub

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
    """Railway refused or failed a request; the message says which and never carries the token or a value."""


class RailwayClient:
    """The GraphQL operations the resource needs: one bounded request each, never redirected, and errors
    whose text from Railway is scrubbed of the token and of every variable value before it is shown."""

    def __init__(
        self,
        api_url: str,
        token: str,
        token_type: str,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
        secrets: Iterable[str] = (),
    ):
        if not token:
            raise RailwayApiError(
                f"no Railway token: set the stack's secret {TOKEN_CONFIG_KEY}"
                f" (`pulumi config set --secret {TOKEN_CONFIG_KEY}`) or {TOKEN_ENV}"
            )
        self.api_url = api_url
        self.timeout = timeout
        self._secrets = [token, *secrets]
        # Project tokens have their own header; account and workspace tokens are bearer tokens.
        auth = {"Project-Access-Token": token} if token_type == "project" else {"Authorization": f"Bearer {token}"}
        self._headers = {"Content-Type": "application/json", "Accept": "application/json", **auth}

    def variables(self, target: dict[str, str]) -> dict[str, str]:
        found = self._call(_VARIABLES, _target_args(target)).get("variables")
        if found is None:
            return {}
        if not isinstance(found, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in found.items()):
            raise RailwayApiError("Railway answered variables with an unexpected shape (not a map of name to value)")
        return found

    def upsert(self, target: dict[str, str], variables: dict[str, str]) -> None:
        # One collection upsert: one redeploy of the router, not one per variable; replace=False keeps the
        # service's other variables.
        self._call(_UPSERT, {"input": {**_target_args(target), "variables": variables, "replace": False}})

    def delete(self, target: dict[str, str], name: str) -> None:
        self._call(_DELETE, {"input": {**_target_args(target), "name": name}})

    def _show(self, text: str) -> str:
        return scrub(text, self._secrets, limit=300)

    def _call(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables}).encode()
        operation = query.split("(", 1)[0].split()[-1]
        url = self._show(self.api_url)
        try:
            response = bounded_http.post(self.api_url, self._headers, body, self.timeout)
        except bounded_http.ExchangeError as error:
            reason = self._show(str(error))
            if error.kind == "timeout":
                message = f"Railway at {url} did not answer {operation} within {self.timeout:g} s"
            elif error.kind == "unreachable":
                message = f"cannot reach Railway at {url} ({operation}): {reason}"
            else:
                message = f"Railway's answer to {operation} is unusable: {reason}"
            raise RailwayApiError(message) from None
        if response.is_redirect:
            # Following it would hand the token to whichever host the Location names.
            target = self._show(urlsplit(response.location).netloc or response.location or "nowhere")
            raise RailwayApiError(
                f"Railway answered {operation} with a redirect (HTTP {response.status}) to {target}; not followed,"
                " since the request carries the token: check railwayApiUrl"
            )
        if response.status in (401, 403):
            raise RailwayApiError(
                f"Railway refused the token ({operation}: HTTP {response.status}); check {TOKEN_CONFIG_KEY} and"
                " railwayTokenType (project tokens only reach their own project)"
            )
        payload = self._decode(operation, response)
        messages = self._error_messages(operation, payload)
        if response.status >= 400 or not 200 <= response.status < 300:
            detail = f": {messages}" if messages else ""
            raise RailwayApiError(
                f"Railway API error ({operation}: HTTP {response.status} {self._show(response.reason)}){detail}"
            )
        if messages:
            hint = f" (check {TOKEN_CONFIG_KEY} and railwayTokenType)" if "authorized" in messages.lower() else ""
            raise RailwayApiError(f"Railway rejected {operation}: {messages}{hint}")
        data = payload.get("data")
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise RailwayApiError(f"Railway answered {operation} with an unexpected shape (data is not an object)")
        return data

    def _decode(self, operation: str, response: bounded_http.HttpResponse) -> dict[str, Any]:
        try:
            payload = json.loads(response.body.decode("utf-8") or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            if response.status >= 400:  # a gateway's HTML error page, say: the status says enough
                return {}
            raise RailwayApiError(f"Railway answered {operation} with something that is not JSON") from None
        if not isinstance(payload, dict):
            raise RailwayApiError(f"Railway answered {operation} with an unexpected shape (not a JSON object)")
        return payload

    def _error_messages(self, operation: str, payload: dict[str, Any]) -> str:
        errors = payload.get("errors") or []
        if not isinstance(errors, list):
            raise RailwayApiError(f"Railway answered {operation} with an unexpected shape (errors is not a list)")
        return "; ".join(self._show(str(e.get("message", e) if isinstance(e, dict) else e)) for e in errors)


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


def foreign_variables(declared: dict[str, str], present: dict[str, str]) -> list[str]:
    """Names the stack would write that the service already has with another value: not the stack's."""
    return sorted(name for name, value in declared.items() if name in present and present[name] != value)


def refuse_to_overwrite(names: list[str]) -> RailwayApiError:
    return RailwayApiError(
        f"the Railway service already has {', '.join(names)}, which this stack did not create, with a different"
        " value; refusing to overwrite it. To let this stack own it, delete it on the service (Railway"
        " dashboard or `railway variables`) or set it there to the stack's value, then run `pulumi up` again;"
        " to keep it, rename the stack's variable"
    )


class RailwayVariablesProvider(ResourceProvider):
    def __init__(self) -> None:
        self._token = ""

    def configure(self, req: ConfigureRequest) -> None:
        self._token = req.config.get(TOKEN_CONFIG_KEY) or ""

    def _client(self, *props: dict[str, Any]) -> RailwayClient:
        token = self._token or os.environ.get(TOKEN_ENV, "")
        # Every value either side of a change, so no error can echo one back.
        values = [str(v) for p in props for v in (p.get("variables") or {}).values()]
        return RailwayClient(props[0]["api_url"], token, props[0]["token_type"], secrets=values)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in TARGET_FIELDS if olds.get(k) != news.get(k)]
        changed = replaces + [k for k in ("variables",) if olds.get(k) != news.get(k)]
        # The old service keeps its variables until the new one has them; a router never loses its config.
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        client = self._client(props)
        declared = dict(props["variables"])
        # A variable already there with the same value is adopted as is; one with another value is not ours.
        foreign = foreign_variables(declared, client.variables(props))
        if foreign:
            raise refuse_to_overwrite(foreign)
        client.upsert(props, declared)
        return CreateResult(id_="/".join(props[k] for k in TARGET_FIELDS), outs=dict(props))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        client = self._client(news, olds)
        old_values = dict(olds.get("variables") or {})
        changed, removed = changed_variables(old_values, dict(news["variables"]))
        added = {name: value for name, value in changed.items() if name not in old_values}
        if added:  # names new to the stack may already be someone else's on the service
            foreign = foreign_variables(added, client.variables(news))
            if foreign:
                raise refuse_to_overwrite(foreign)
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
