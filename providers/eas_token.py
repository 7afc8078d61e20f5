"""A Pulumi dynamic provider that reads the token PAI-EAS generated for a service, as a secret, during `pulumi up`.

Why: a token written into `serviceConfig` never round-trips. EAS hides `token` when it exports a service's config,
and the alicloud provider stores that export and compares it with the program's JSON, so every later preview
would show the config changed and every `up` would roll the service (../shared/reference/
real-cloud-behaviour.md). Left out of the config, EAS generates the token itself; pulumi_alicloud 4.0.0 has no
output or invoke that returns it, but the EAS API does: DescribeService answers `AccessToken`. This reads it with
Alibaba Cloud's own SDK (alibabacloud-eas20210701), on the deploying machine.

Credentials: the deployer's keys from the environment (fleet.credentials.alibaba_keys), never inputs or state;
the deployer needs `eas:DescribeService`. The token is the only output that matters and is a secret
(`additional_secret_outputs`). A token reset in the console reaches the router after `pulumi refresh` of the
region stack and an `up` of the router. Errors name the service and the API's code, never a credential.

Offline (`make plan`, tests) the mock engine never calls a dynamic provider; the simulated cloud answers a
stand-in token.
"""

from __future__ import annotations

import os
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from fleet import credentials

REREAD_ON = ("region", "service_name", "service_created", "api_endpoint")
TIMEOUT_MS = 30_000  # one small GET; a hang must not hold `pulumi up`


class EasTokenError(Exception):
    """Why the token could not be read; safe to show (no credential, no token)."""


def read_token(region: str, service_name: str, api_endpoint: str = "", environ: Any = None) -> str:
    """The service's token, from DescribeService. `api_endpoint` empty: the SDK's regional endpoint."""
    from alibabacloud_eas20210701.client import Client
    from alibabacloud_tea_openapi import models as open_api_models

    keys = credentials.alibaba_keys(os.environ if environ is None else environ)
    if keys is None:
        raise EasTokenError(
            f"no Alibaba Cloud credentials to read EAS service {service_name}'s token:"
            f" {credentials.MISSING_ALIBABA_KEYS}"
        )
    scheme, _, host = api_endpoint.rpartition("://") if "://" in api_endpoint else ("https", "", api_endpoint)
    config = open_api_models.Config(
        access_key_id=keys.access_key_id,
        access_key_secret=keys.access_key_secret,
        security_token=keys.security_token or None,
        region_id=region,
        endpoint=host or None,
        protocol=scheme,
        connect_timeout=TIMEOUT_MS,
        read_timeout=TIMEOUT_MS,
    )
    try:
        body = Client(config).describe_service(region, service_name).body
    except Exception as error:  # the SDK raises TeaException for API answers, others for transport
        code = getattr(error, "code", None) or type(error).__name__
        status = getattr(error, "statusCode", None)
        if status:
            raise EasTokenError(
                f"DescribeService for EAS service {service_name} in {region} failed ({code}, HTTP {status});"
                " check that the service exists and that the deployer may call eas:DescribeService"
            ) from None
        raise EasTokenError(
            f"could not reach the EAS API in {region} at {host or 'its regional endpoint'} to read service"
            f" {service_name}'s token ({code}); the deploying machine needs a route to it"
        ) from None
    token = getattr(body, "access_token", None) or ""
    if not token:
        raise EasTokenError(f"EAS answered no token for service {service_name} in {region}")
    return token


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
