"""`make prices`: Alibaba's own ECS and BSS SDKs against a local stand-in of the pricing APIs on 127.0.0.1.

The stand-in answers the RPC actions the way the APIs' models describe them (DescribePrice: PriceInfo.Price;
QueryProductList: Data.ProductList.Product; DescribePricingModule: Data.ModuleList.Module[].ConfigList;
GetPayAsYouGoPrice: Data.Currency and Data.ModuleDetails), or with an API error; the SDKs sign and send the
requests for real, so the actions, parameters and signing are what a real run sends.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from fleet import cost
from offline import prices_fetch
from offline.plan import main as plan_main
from tests.loopback import answer_alibaba_json, running

KEYS = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "deployer-key-id", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "deployer-secret-value"}
EAS_CODE = "learn"  # whatever the list says: the code is read from QueryProductList, never written in the program


class PricingApi(ThreadingHTTPServer):
    requests: list[dict[str, str]]
    fail: str  # an action to answer with an API error


def _answer(api: PricingApi, params: dict[str, str]) -> tuple[int, dict]:
    action = params.get("Action", "")
    if api.fail and action == api.fail:
        return 403, {"Code": "Forbidden.RAM", "Message": "User not authorized to operate on the specified resource."}
    if action == "DescribePrice":
        price = {"TradePrice": 9.62 if params["InstanceType"].startswith("ecs.gn") else 0.9, "Currency": "CNY"}
        return 200, {"PriceInfo": {"Price": {**price, "OriginalPrice": price["TradePrice"]}}}
    if action == "QueryProductList":
        products = [
            {
                "ProductCode": "ecs",
                "ProductName": "Elastic Compute Service",
                "ProductType": "",
                "SubscriptionType": "Subscription",
            },
            {
                "ProductCode": EAS_CODE,
                "ProductName": "PAI-EAS",
                "ProductType": "learn_eas_public_cn",
                "SubscriptionType": "PayAsYouGo",
            },
        ]
        return 200, {"Data": {"ProductList": {"Product": products}}, "Success": True}
    if action == "DescribePricingModule":
        module = {"ModuleCode": "InstanceType", "ModuleName": "spec", "PriceType": "Hour", "Currency": "CNY"}
        module["ConfigList"] = {"ConfigList": ["ecs.gn7i-c8g1.2xlarge", "ml.gu7i.c8m30.1-gu30"]}
        return 200, {"Data": {"ModuleList": {"Module": [module]}}, "Success": True}
    if action == "GetPayAsYouGoPrice":
        detail = {"ModuleCode": params["ModuleList.1.ModuleCode"], "OriginalCost": 12.5, "CostAfterDiscount": 12.5}
        return 200, {"Data": {"Currency": "CNY", "ModuleDetails": {"ModuleDetail": [detail]}}, "Success": True}
    return 400, {"Code": "InvalidAction", "Message": action}


def _handler(api: PricingApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode())) if length else {}
            # RPC actions sign with Action in the parameters; ACS3 puts it in x-acs-action: accept both.
            params = {
                **query,
                **form,
                "Action": query.get("Action") or form.get("Action") or self.headers.get("x-acs-action", ""),
            }
            api.requests.append(
                {**params, "_host": self.headers.get("Host", ""), "_auth": self.headers.get("Authorization", "")}
            )
            status, body = _answer(api, params)
            answer_alibaba_json(self, status, body)

        do_GET = do_POST = _serve  # noqa: N815 (http.server's names)

        def log_message(self, *_args) -> None:
            return None

    return Handler


@pytest.fixture
def api() -> Iterator[PricingApi]:
    server = PricingApi(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.RequestHandlerClass = _handler(server)
    server.requests, server.fail = [], ""
    with running(server):
        yield server


def _args(api: PricingApi, out) -> list[str]:
    where = f"http://127.0.0.1:{api.server_address[1]}"
    return [
        "--stack",
        "us-east",
        "--site",
        "china",
        "--out",
        str(out),
        "--bss-endpoint",
        where,
        "--ecs-endpoint",
        where,
    ]


def test_the_price_command_writes_a_file_the_plan_then_uses(api, tmp_path, capsys, shared_plan_syntheses):
    out = tmp_path / "api.yaml"
    assert prices_fetch.main(_args(api, out), environ=KEYS) == 0
    actions = [r["Action"] for r in api.requests]
    # ECS for the GPU and system pools; BSS discovers EAS's product and module before pricing it.
    assert actions == [
        "DescribePrice",
        "DescribePrice",
        "QueryProductList",
        "DescribePricingModule",
        "GetPayAsYouGoPrice",
    ]
    ecs = api.requests[0]
    assert (ecs["RegionId"], ecs["ResourceType"], ecs["PriceUnit"]) == ("us-east-1", "instance", "Hour")
    assert ecs["SystemDisk.Category"] == "cloud_essd" and ecs["SystemDisk.Size"] == "40"
    module = api.requests[3]
    assert (module["ProductCode"], module["ProductType"], module["SubscriptionType"]) == (
        EAS_CODE,
        "learn_eas_public_cn",
        "PayAsYouGo",
    )
    priced = api.requests[4]
    assert priced["ModuleList.1.ModuleCode"] == "InstanceType"
    assert (
        priced["ModuleList.1.Config"] == "InstanceType:ecs.gn7i-c8g1.2xlarge"
        and priced["ModuleList.1.PriceType"] == "Hour"
    )
    # Signed with the deployer's key id (RPC signature or ACS3 header), never with the secret in the clear.
    for request in api.requests:
        signed = request.get("AccessKeyId") == KEYS["ALIBABA_CLOUD_ACCESS_KEY_ID"] and request.get("Signature")
        assert signed or "deployer-key-id" in request["_auth"], request
        assert "deployer-secret-value" not in json.dumps(request)
    document = yaml.safe_load(out.read_text(encoding="utf-8"))
    entries = {e["id"]: e for e in document["prices"]}
    assert set(entries) == {
        "alibaba.ecs.ecs.gn7i-c8g1.2xlarge.us-east-1",
        "alibaba.ecs.ecs.g7.xlarge.us-east-1",
        "alibaba.eas.ecs.gn7i-c8g1.2xlarge.us-east-1",
    }
    assert all(
        e["origin"] == "Alibaba pricing API, china site (CNY)" and e["currency"] == "CNY" for e in entries.values()
    )
    assert entries["alibaba.eas.ecs.gn7i-c8g1.2xlarge.us-east-1"]["amount"] == 12.5
    assert "deployer-secret-value" not in out.read_text(encoding="utf-8")

    # The plan reads it: the system pool is priced (converted at the table's fx.CNY.USD), EAS exactly.
    table = cost.load_prices([cost.PRICES_PATH, out])
    assert table.get("alibaba.ecs.ecs.g7.xlarge.us-east-1").amount == pytest.approx(0.9 * 0.138)
    capsys.readouterr()
    assert plan_main(["--stack", "us-east", "--view", "cost-json", "--out", str(tmp_path), "--prices", str(out)]) in (
        0,
        1,
    )
    region = json.loads(capsys.readouterr().out)["regions"][0]
    assert region["missingPrices"] == []
    eas = next(line for line in region["lines"] if line["provider"] == "eas")
    assert eas["monthMax"]["usd"] == pytest.approx(3 * 12.5 * 0.138 * 730) and eas["monthMax"]["complete"]


def test_an_api_error_names_the_call_and_no_credential(api, tmp_path, capsys, shared_plan_syntheses):
    api.fail = "GetPayAsYouGoPrice"
    out = tmp_path / "api.yaml"
    assert prices_fetch.main(_args(api, out), environ=KEYS) == 1
    err = capsys.readouterr().err
    assert "BSS GetPayAsYouGoPrice for ecs.gn7i-c8g1.2xlarge in us-east-1 failed (Forbidden.RAM, HTTP 403)" in err
    assert "deployer-secret-value" not in err and "deployer-key-id" not in err
    assert not out.exists()


def test_an_unreachable_api_is_named_and_nothing_is_written(tmp_path, capsys, shared_plan_syntheses):
    out = tmp_path / "api.yaml"
    argv = [
        "--stack",
        "us-east",
        "--out",
        str(out),
        "--ecs-endpoint",
        "http://127.0.0.1:9",
        "--bss-endpoint",
        "http://127.0.0.1:9",
    ]
    assert prices_fetch.main(argv, environ=KEYS) == 1
    assert "ECS DescribePrice for ecs.gn7i-c8g1.2xlarge in us-east-1 failed" in capsys.readouterr().err
    assert not out.exists()


def test_without_credentials_nothing_is_asked_and_nothing_changes(api, tmp_path, capsys, shared_plan_syntheses):
    out = tmp_path / "api.yaml"
    assert prices_fetch.main(_args(api, out), environ={}) == 0
    assert api.requests == [] and not out.exists()
    assert "no Alibaba Cloud credentials: nothing asked, nothing written" in capsys.readouterr().out


def test_a_redirect_is_never_followed_with_the_credential(tmp_path, capsys, shared_plan_syntheses):
    """A pricing API (or a proxy) that answers 302 to another host: the SDK would resend the signed request and
    the STS token there; the command refuses it before anything reaches the other host."""
    seen: list[str] = []

    class Elsewhere(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen.append(self.headers.get("x-acs-security-token", "") + self.headers.get("Authorization", ""))
            self.send_response(200)
            self.end_headers()

        do_POST = do_GET  # noqa: N815

        def log_message(self, *_args) -> None:
            return None

    other = ThreadingHTTPServer(("127.0.0.1", 0), Elsewhere)

    class Redirecting(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{other.server_address[1]}/stolen")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_GET  # noqa: N815

        def log_message(self, *_args) -> None:
            return None

    bouncer = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    with running(other, bouncer):
        where = f"http://127.0.0.1:{bouncer.server_address[1]}"
        argv = [
            "--stack",
            "us-east",
            "--out",
            str(tmp_path / "p.yaml"),
            "--bss-endpoint",
            where,
            "--ecs-endpoint",
            where,
        ]
        environ = {**KEYS, "ALIBABA_CLOUD_SECURITY_TOKEN": "sts-token-value"}
        assert prices_fetch.main(argv, environ=environ) == 1
    assert seen == [], "the credential reached the host the redirect named"
    printed = capsys.readouterr()
    assert "sts-token-value" not in printed.out + printed.err and "deployer-secret-value" not in printed.err


def test_an_endpoint_override_is_for_a_loopback_stand_in_only(tmp_path, capsys, shared_plan_syntheses):
    argv = ["--stack", "us-east", "--out", str(tmp_path / "p.yaml"), "--ecs-endpoint", "http://pricing.example"]
    assert prices_fetch.main(argv, environ=KEYS) == 2
    assert "loopback stand-in only" in capsys.readouterr().err
