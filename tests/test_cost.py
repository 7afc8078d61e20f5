"""Cost in the plan: the study's arithmetic, unknown prices kept unknown, and packing savings from the planner."""

from __future__ import annotations

import json

import pytest
import yaml

from fleet import cost
from fleet.capacity import region_packing
from fleet.config_schema import load_project_schema
from fleet.settings import parse_settings
from offline.plan import main as plan_main
from offline.report import plan_document
from offline.stack_files import load_stack_config
from tests.conftest import settled_ok

SHIPPED = cost.load_prices()
NODE_HOURLY, EAS_HOURLY = 1.25, 1.5  # made-up test prices, in a test's own file, never in the shipped table


def user_prices(tmp_path, region: str) -> cost.PriceTable:
    """What a user adds: Alibaba prices with their source, in a file of their own."""
    entries = [
        {"id": f"alibaba.ecs.ecs.gn7i-c8g1.2xlarge.{region}", "amount": NODE_HOURLY},
        {"id": f"alibaba.eas.ecs.gn7i-c8g1.2xlarge.{region}", "amount": EAS_HOURLY},
    ]
    document = {
        "prices": [
            {**e, "what": "test price", "currency": "USD", "unit": "hour", "source": "test quote", "date": "2026-11-22"}
            for e in entries
        ]
    }
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return cost.load_prices([cost.PRICES_PATH, path])


def test_the_studys_scenario_reproduces_2952_a_year_at_0_000164_per_second():
    rows = {row["provider"]: row for row in cost.study_scenario(SHIPPED)["rows"]}
    assert rows["runpod"]["rate"] == 0.000164
    assert rows["runpod"]["annualUsd"] == 2952.0
    assert rows["runpod"]["arithmetic"] == "9 endpoints x 1,000,000 inferences x 2 s x $0.000164/s = $2,952/year"
    assert rows["alibaba"]["annualUsd"] == 5400.0  # not the study's stated ~$3,500: the arithmetic shows the gap


def test_an_unknown_price_makes_every_sum_that_needs_it_unknown_never_partial(synth):
    outputs = settled_ok(synth("us-east")).outputs
    region = cost.region_cost(outputs, SHIPPED)
    assert not region.month_max.known and region.month_max.usd is None
    assert "alibaba.ecs.ecs.gn7i-c8g1.2xlarge.us-east-1" in region.missing()
    assert "modal.gpu.L4" in region.missing()
    known_plus_unknown = cost.Amount(100.0) + cost.Amount(None, ("x",))
    assert known_plus_unknown.usd is None and known_plus_unknown.missing == ("x",)
    assert cost.total([cost.Amount(1.0), cost.Amount(None, ("a",)), cost.Amount(2.0)]).text() == "unknown"


def test_nothing_costs_nothing_whatever_its_price():
    assert cost.Amount(None, ("p",)).times(0) == cost.Amount(0.0)


def test_known_prices_give_the_arithmetic_of_nodes_instances_and_workers(synth, tmp_path):
    outputs = settled_ok(synth("ap-southeast", overrides={"counterpartGpus": ["AMPERE_24"]})).outputs
    region = cost.region_cost(outputs, user_prices(tmp_path, "ap-southeast-1"))
    lines = {line.provider: line for line in region.lines}
    pool = outputs["kubernetes"]["gpuPool"]
    assert lines["ack"].month_min.usd == pytest.approx(pool["minNodes"] * NODE_HOURLY * 730)
    assert lines["ack"].month_max.usd == pytest.approx(pool["maxNodes"] * NODE_HOURLY * 730)
    instances = sum(e["autoscaler"]["min"] for e in outputs["easEndpoints"].values())
    assert lines["eas"].month_min.usd == pytest.approx(instances * EAS_HOURLY * 730)
    assert lines["eas"].per_million.usd == pytest.approx(EAS_HOURLY / 3600 * 2 * 1_000_000)
    # RunPod: no active workers at minimum; at maximum, 2 flex workers for each of 3 endpoints.
    assert lines["runpod"].month_min.usd == 0
    assert lines["runpod"].month_max.usd == pytest.approx(3 * 2 * 0.684 * 730)
    assert lines["runpod"].per_million.usd == pytest.approx(0.684 / 3600 * 2 * 1_000_000)
    assert region.month_min.usd == pytest.approx(sum(line.month_min.usd for line in region.lines))
    assert region.missing() == []


def test_packing_savings_match_the_planner(synth, tmp_path):
    settings = parse_settings(
        load_project_schema(), "ap-southeast", load_stack_config("ap-southeast").values, frozenset()
    )
    planned = region_packing(settings)
    outputs = settled_ok(synth("ap-southeast")).outputs
    region = cost.region_cost(outputs, user_prices(tmp_path, "ap-southeast-1"))
    assert (region.gpus_packed, region.gpus_whole) == (planned.gpus_needed, len(planned.gpus) + planned.gpus_saved)
    assert region.packing_saving_month.usd == pytest.approx(planned.gpus_saved * NODE_HOURLY * 730)
    assert planned.gpus_saved >= 1


def test_each_shipped_region_plan_carries_its_cost_and_names_the_prices_it_lacks(synth):
    for stack in ("cn-beijing", "ap-southeast", "us-east"):
        document = plan_document(load_stack_config(stack), settled_ok(synth(stack)))
        costs = document["cost"]
        assert costs["hoursPerMonth"] == 730 and costs["latencySeconds"] == 2.0
        assert {line["provider"] for line in costs["lines"]} >= {"ack", "eas"}
        assert costs["monthMax"]["usd"] is None and costs["monthMax"]["missingPrices"]
        assert all(p.startswith(("alibaba.", "runpod.", "modal.")) for p in costs["missingPrices"])


def test_the_cost_view_prints_per_month_and_per_million_figures_where_prices_are_known(tmp_path, capsys):
    prices = tmp_path / "mine.yaml"
    prices.write_text(
        yaml.safe_dump(
            {
                "prices": [
                    {
                        "id": "alibaba.eas.ecs.gn7i-c8g1.2xlarge.us-east-1",
                        "what": "test price",
                        "amount": EAS_HOURLY,
                        "currency": "USD",
                        "unit": "hour",
                        "source": "test quote",
                        "date": "2026-11-22",
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    argv = ["--stack", "us-east", "--view", "cost-json", "--out", str(tmp_path), "--prices", str(prices)]
    assert plan_main(argv) == 0
    fleet = json.loads(capsys.readouterr().out)
    eas = next(line for line in fleet["regions"][0]["lines"] if line["provider"] == "eas")
    assert eas["monthMin"]["usd"] == pytest.approx(3 * EAS_HOURLY * 730)
    assert eas["perMillionInferences"]["usd"] == pytest.approx(EAS_HOURLY / 3600 * 2 * 1e6)
    assert fleet["monthMin"]["usd"] is None  # the ACK pool's price is still unknown
    assert fleet["study"]["rows"][0]["annualUsd"] == 2952.0

    assert plan_main(["--stack", "us-east", "--view", "cost", "--out", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "PER 1M @ 2s" in table and "unknown until these prices are added" in table
    assert "$2,952/year" in table


def test_a_price_without_a_source_is_refused_naming_it(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump({"prices": [{"id": "x.y", "what": "w", "amount": 1, "currency": "USD", "unit": "hour"}]}),
        encoding="utf-8",
    )
    with pytest.raises(cost.PriceTableError, match=r"bad.yaml: prices\[0\] \(x.y\) lacks source, date"):
        cost.load_prices([path])


def test_every_shipped_price_has_unit_currency_source_and_date():
    assert len(SHIPPED.prices) >= 15
    for price in SHIPPED.prices.values():
        assert price.unit in cost.UNITS and price.source and price.date and price.currency
    assert not [p for p in SHIPPED.prices if p.startswith("alibaba.")], "no Alibaba price ships without a source"
