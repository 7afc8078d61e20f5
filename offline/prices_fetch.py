"""`make prices`: ask Alibaba's own pricing API for the prices the declared region stacks need, and write them as a
dated price file the plan reads with `--prices` (../shared/reference/prices-2026-12.md, "Prices at plan time").

- ECS instance types (the GPU pool's and the CPU system pool's) through ECS `DescribePrice(RegionId,
  ResourceType=instance, InstanceType, PriceUnit=Hour, SystemDisk)`;
- PAI-EAS instance types through BSS OpenAPI: `QueryProductList` finds the product whose name says EAS (its
  code is discovered, never guessed), `DescribePricingModule(ProductCode, ProductType, PayAsYouGo)` finds the
  module whose allowed values hold the instance type, `GetPayAsYouGoPrice(..., PriceType=Hour)` prices it.

Every entry says it came from the API, for which account site and in which currency (the site's: CNY on the
China site; the price table converts CNY at its cited fx.CNY.USD rate). Without credentials nothing is asked
and nothing is written. Function Compute, CLB, OSS and ACR are not asked yet: their figures stay the table's.
Alibaba's SDKs (requirements-dev.txt) are imported only here, never by the plan.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import requests
import yaml

from fleet import credentials, urls
from fleet.config_schema import PROJECT_ROOT

# The BSS OpenAPI endpoint per account site (alibabacloud.com/help/doc-detail/91486.html).
BSS_ENDPOINTS = {"china": "business.aliyuncs.com", "international": "business.ap-southeast-1.aliyuncs.com"}
SYSTEM_DISK = {"category": "cloud_essd", "size": 40}  # what the ECS catalog's prices include (prices-2026-11.md)
TIMEOUT_MS = 15_000
EAS_PRODUCT_WORDS = ("EAS", "Elastic Algorithm Service")  # how the product list names PAI-EAS


class PricesError(RuntimeError):
    """The API refused or could not be reached; the message names the call, never a credential."""


def needs(outputs_by_stack: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    """(kind, region, instance type) for every price the stacks' cost lines ask for: ecs or eas."""
    found: dict[tuple[str, str, str], None] = {}
    for outputs in outputs_by_stack.values():
        region = outputs.get("region")
        if not region:
            continue
        kubernetes = outputs.get("kubernetes") or {}
        for pool in ("gpuPool", "systemPool"):
            for instance in (kubernetes.get(pool) or {}).get("instanceTypes", [])[:1]:
                found[("ecs", region, instance)] = None
        for endpoint in (outputs.get("easEndpoints") or {}).values():
            found[("eas", region, endpoint["instanceType"])] = None
    return list(found)


class _NoRedirectSession(requests.Session):
    """The SDK's HTTP session, but refusing every redirect before it is followed: requests would resend the signed
    request, the STS token's x-acs-security-token header included, to whatever host a Location names (the EAS
    token reader avoids the SDK's transport for the same reason: providers/eas_token.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.max_redirects = 0  # resolve_redirects raises TooManyRedirects before sending anything on


@contextlib.contextmanager
def _no_redirects() -> Iterator[None]:
    """The pricing SDKs (darabonba over requests) send through sessions that never follow a redirect."""
    from darabonba import core

    saved_class, saved_sessions = core.Session, dict(core.DaraCore._sessions)
    core.Session, core.DaraCore._sessions = _NoRedirectSession, {}
    try:
        yield
    finally:
        core.Session, core.DaraCore._sessions = saved_class, saved_sessions


def endpoint_problem(endpoint: str) -> str:
    """An endpoint override is for a local stand-in only: the real endpoints are Alibaba's, over https."""
    url = endpoint if "://" in endpoint else f"https://{endpoint}"
    return (
        "" if urls.is_loopback(url) else f"--bss-endpoint/--ecs-endpoint take a loopback stand-in only, got {endpoint}"
    )


def _config(keys: Any, endpoint: str, region: str) -> Any:
    from alibabacloud_tea_openapi import models as open_api_models

    scheme, _, host = endpoint.rpartition("://") if "://" in endpoint else ("https", "", endpoint)
    return open_api_models.Config(
        access_key_id=keys.access_key_id,
        access_key_secret=keys.access_key_secret,
        security_token=keys.security_token or None,
        region_id=region,
        endpoint=host,
        protocol=scheme,
        connect_timeout=TIMEOUT_MS,
        read_timeout=TIMEOUT_MS,
    )


def _call(what: str, call: Any) -> Any:
    try:
        return call().body
    except Exception as error:  # TeaException for API answers, others for transport
        code = getattr(error, "code", None) or type(error).__name__
        status = getattr(error, "statusCode", None)
        where = f"HTTP {status}" if status else "not reached"
        raise PricesError(
            credentials.redact(f"{what} failed ({code}, {where}); the deployer needs bss:DescribePrice and a route")
        ) from None


def ecs_price(keys: Any, endpoint: str, region: str, instance: str) -> tuple[float, str]:
    from alibabacloud_ecs20140526 import models
    from alibabacloud_ecs20140526.client import Client

    request = models.DescribePriceRequest(
        region_id=region,
        resource_type="instance",
        instance_type=instance,
        price_unit="Hour",
        system_disk=models.DescribePriceRequestSystemDisk(**SYSTEM_DISK),
    )
    body = _call(
        f"ECS DescribePrice for {instance} in {region}",
        lambda: Client(_config(keys, endpoint, region)).describe_price(request),
    )
    price = body.price_info.price
    return float(price.trade_price), str(price.currency)


def eas_price(keys: Any, endpoint: str, region: str, instance: str) -> tuple[float, str, str]:
    from alibabacloud_bssopenapi20171214 import models
    from alibabacloud_bssopenapi20171214.client import Client

    client = Client(_config(keys, endpoint, region))
    products = _call(
        "BSS QueryProductList",
        lambda: client.query_product_list(models.QueryProductListRequest(page_num=1, page_size=100)),
    )
    product = next(
        (
            p
            for p in products.data.product_list.product
            if any(word.lower() in (p.product_name or "").lower() for word in EAS_PRODUCT_WORDS)
            and (p.subscription_type or "PayAsYouGo") == "PayAsYouGo"
        ),
        None,
    )
    if product is None:
        raise PricesError("BSS QueryProductList lists no pay-as-you-go product named like PAI-EAS; price it by hand")
    modules = _call(
        f"BSS DescribePricingModule for {product.product_code}",
        lambda: client.describe_pricing_module(
            models.DescribePricingModuleRequest(
                product_code=product.product_code, product_type=product.product_type, subscription_type="PayAsYouGo"
            )
        ),
    )
    module = next(
        (
            m
            for m in modules.data.module_list.module
            if instance in (m.config_list.config_list if m.config_list else [])
        ),
        None,
    )
    if module is None:
        raise PricesError(f"no pricing module of {product.product_code} offers {instance}; price it by hand")
    priced = _call(
        f"BSS GetPayAsYouGoPrice for {instance} in {region}",
        lambda: client.get_pay_as_you_go_price(
            models.GetPayAsYouGoPriceRequest(
                product_code=product.product_code,
                product_type=product.product_type,
                subscription_type="PayAsYouGo",
                region=region,
                module_list=[
                    models.GetPayAsYouGoPriceRequestModuleList(
                        module_code=module.module_code, config=f"{module.module_code}:{instance}", price_type="Hour"
                    )
                ],
            )
        ),
    )
    detail = priced.data.module_details.module_detail[0]
    return float(detail.cost_after_discount), str(priced.data.currency), f"{product.product_code}/{module.module_code}"


def fetch(
    wanted: Iterable[tuple[str, str, str]], keys: Any, site: str, bss_endpoint: str, ecs_endpoint: str, today: str
) -> list[dict[str, Any]]:
    entries = []
    for kind, region, instance in wanted:
        if kind == "ecs":
            amount, currency = ecs_price(keys, ecs_endpoint or f"ecs.{region}.aliyuncs.com", region, instance)
            source = f"Alibaba pricing API: ECS DescribePrice (RegionId={region}, InstanceType={instance}, 40 GB ESSD)"
            price_id = f"alibaba.ecs.{instance}.{region}"
        else:
            amount, currency, codes = eas_price(keys, bss_endpoint or BSS_ENDPOINTS[site], region, instance)
            source = f"Alibaba pricing API: BSS GetPayAsYouGoPrice ({codes}, Region={region}, {instance})"
            price_id = f"alibaba.eas.{instance}.{region}"
        entries.append(
            {
                "id": price_id,
                "what": f"{'ECS' if kind == 'ecs' else 'PAI-EAS'} {instance}, {region}, per hour (pay-as-you-go)",
                "amount": amount,
                "currency": currency,
                "unit": "hour",
                "source": source,
                "date": today,
                "origin": f"Alibaba pricing API, {site} site ({currency})",
                "trust": "Alibaba's own API for this account: its price after the account's discounts, on the day",
            }
        )
    return entries


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make prices", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", action="append", help="region stack(s) to price (default: every shipped one)")
    parser.add_argument("--site", choices=sorted(BSS_ENDPOINTS), default="international", help="the account's site")
    parser.add_argument("--out", type=Path, help="price file to write (default: prices/api-<date>.yaml)")
    parser.add_argument("--bss-endpoint", default="", help=argparse.SUPPRESS)  # a stand-in, for tests
    parser.add_argument("--ecs-endpoint", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    keys = credentials.alibaba_keys(os.environ if environ is None else environ)
    if keys is None:
        print(f"no Alibaba Cloud credentials: nothing asked, nothing written ({credentials.MISSING_ALIBABA_KEYS})")
        return 0
    from offline.plan import plan_stacks
    from offline.stack_files import load_stack_config, shipped_stacks

    configs = [load_stack_config(stack) for stack in (args.stack or shipped_stacks())]
    outputs = {config.stack: synthesis.outputs for config, synthesis in plan_stacks(configs) if synthesis.ok}
    today = datetime.date.today().isoformat()
    refused = [problem for e in (args.bss_endpoint, args.ecs_endpoint) if e and (problem := endpoint_problem(e))]
    if refused:
        print(f"error: {refused[0]}", file=sys.stderr)
        return 2
    try:
        with _no_redirects():
            entries = fetch(needs(outputs), keys, args.site, args.bss_endpoint, args.ecs_endpoint, today)
    except PricesError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    out = args.out or PROJECT_ROOT / "prices" / f"api-{today}.yaml"
    header = (
        f"# Written by `make prices` on {today} from Alibaba's pricing API ({args.site} site); use with --prices.\n"
    )
    out.write_text(header + yaml.safe_dump({"version": 1, "prices": entries}, sort_keys=False, allow_unicode=True))
    print(f'{len(entries)} prices from Alibaba\'s pricing API -> {out}; plan with: make plan ARGS="--prices {out}"')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
