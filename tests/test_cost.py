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
NODE_HOURLY, EAS_HOURLY, CPU_HOURLY = 1.25, 1.5, 0.2  # made-up test prices, in a test's own file only
# What no public source gives (../shared/reference/prices-2026-11.md), so the shipped plans name it as unknown.
UNSOURCED = ("alibaba.eas.", "alibaba.ecs.ecs.g7.xlarge.", "alibaba.clb.lcu")


def user_prices(tmp_path, region: str) -> cost.PriceTable:
    """What a user adds: Alibaba prices with their source, in a file of their own."""
    entries = [
        {"id": f"alibaba.ecs.ecs.gn7i-c8g1.2xlarge.{region}", "amount": NODE_HOURLY},
        {"id": f"alibaba.eas.ecs.gn7i-c8g1.2xlarge.{region}", "amount": EAS_HOURLY},
        {"id": f"alibaba.ecs.ecs.g7.xlarge.{region}", "amount": CPU_HOURLY},
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
    assert "alibaba.eas.ecs.gn7i-c8g1.2xlarge.us-east-1" in region.missing()
    assert "alibaba.ecs.ecs.gn7i-c8g1.2xlarge.us-east-1" not in region.missing()  # now shipped, with a source
    known_plus_unknown = cost.Amount(100.0) + cost.Amount(None, ("x",))
    assert known_plus_unknown.usd is None and known_plus_unknown.missing == ("x",)
    assert cost.total([cost.Amount(1.0), cost.Amount(None, ("a",)), cost.Amount(2.0)]).text() == "unknown"


def test_nothing_costs_nothing_whatever_its_price():
    assert cost.Amount(None, ("p",)).times(0) == cost.Amount(0.0)


def test_known_prices_give_the_arithmetic_of_nodes_instances_and_workers(synth, tmp_path):
    outputs = settled_ok(synth("ap-southeast", overrides={"counterpartGpus": ["AMPERE_24"]})).outputs
    region = cost.region_cost(outputs, user_prices(tmp_path, "ap-southeast-1"))
    lines: dict[str, cost.CostLine] = {}
    for line in region.lines:
        lines.setdefault(line.provider, line)  # each provider's serving line comes first
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
    assert region.missing() == ["alibaba.clb.lcu"]  # the LB's traffic fee, in the per-million figure only


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


def test_the_cost_view_prints_per_month_and_per_million_figures_where_prices_are_known(
    tmp_path, capsys, shared_plan_syntheses
):
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
    assert fleet["monthMin"]["usd"] is None  # the system pool's price is still unknown
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
    third_party = [p for p in SHIPPED.prices.values() if "third-party" in p.source.lower()]
    assert third_party and all(p.trust for p in third_party), "a third-party catalog's price says how far to trust it"
    assert not [p for p in SHIPPED.prices if p.startswith(UNSOURCED)], "no price ships without a source"


def test_the_shipped_plans_name_no_unknown_price_but_those_no_public_source_gives(synth):
    for stack in ("cn-beijing", "ap-southeast", "us-east"):
        missing = cost.region_cost(settled_ok(synth(stack)).outputs, SHIPPED).missing()
        assert missing and all(p.startswith(UNSOURCED) for p in missing), (stack, missing)


def test_the_studys_scenario_with_todays_sourced_prices_shows_its_arithmetic():
    rows = {row["provider"]: row for row in cost.study_scenario(SHIPPED)["rows"]}
    # 9 endpoints x 1,000,000 inferences x 2 s = 18,000,000 GPU-seconds a year.
    # FC T4: 16 GB x 2.1 CU per GB-second x $0.000020 per CU = $0.000672/s; x 18,000,000 s = $12,096.
    assert rows["today fc"]["annualUsd"] == pytest.approx(18_000_000 * 16 * 2.1 * 0.000020)
    assert "16 GB x 2.1 CU/GB-s x $0.000020/CU = $0.000672/s = $12,096/year" in rows["today fc"]["arithmetic"]
    # ECS gn6i-c4g1.xlarge (T4) in cn-beijing, $1.6165/h = $0.000449/s; x 18,000,000 s = $8,082.50.
    assert rows["today ecs"]["annualUsd"] == pytest.approx(18_000_000 * 1.6165 / 3600)
    # RunPod's cheapest tier (no T4 there), $0.00016/s flex: $2,880; Modal T4 $0.5904/h = $0.000164/s: $2,952.
    assert rows["today runpod"]["annualUsd"] == pytest.approx(2880.0)
    assert rows["today modal"]["annualUsd"] == pytest.approx(2952.0)
    assert rows["runpod"]["annualUsd"] == 2952.0  # the study's own row stays beside them


# Without mistral-7b, whose cold start on FC exceeds what the router may wait (issue 26, finding 8).
FC_ADA = {"servingPlatforms": ["fc"], "fcGpuType": "fc.gpu.ada.1", "models": ["llama3.2-1b", "qwen2.5-1.5b"]}


def test_an_fc_regions_month_at_beacons_volume_is_floor_zero_plus_usage_in_compute_units(synth):
    outputs = settled_ok(synth("ap-southeast", overrides=FC_ADA)).outputs
    region = cost.region_cost(outputs, SHIPPED)
    fc_line = next(line for line in region.lines if line.provider == "fc")
    assert fc_line.month_min.usd == 0  # scale to zero: no floor
    functions = outputs["fcEndpoints"].values()
    # Per active second of one instance, in CU: GPU GB x 1.5 (Ada) + vCPU x 1 + memory GB x 0.15 + 10 GB disk x 0.05.
    per_second = [
        (f["gpuMemoryMB"] / 1024 * 1.5 + f["vcpu"] + f["memoryMB"] / 1024 * 0.15 + 10 * 0.05) * 0.00002
        for f in functions
    ]
    active = sum(per_second) / len(per_second)
    view = region.workload
    requests, seconds = view["requestsPerMonth"], view["secondsPerRequest"]
    expected = requests * seconds * active + requests * 0.0075 * 0.00002
    assert view["platforms"]["fc"]["usage"].usd == pytest.approx(expected)
    shared = 179 + sum(m["weightsGiB"] for m in outputs["models"]) * 2**30 / 1e9 * 0.0173  # registry + bucket
    assert view["platforms"]["fc"]["floor"].usd == pytest.approx(shared)
    assert "10-30 s" in view["platforms"]["fc"]["coldStart"]
    assert any(line.startswith("    fc ") for line in region.notes)


def test_a_fleet_dearer_than_the_set_multiple_of_its_cheapest_placement_is_warned_about(synth, tmp_path):
    outputs = settled_ok(synth("ap-southeast", overrides={"costWarningMultiple": "1.5"})).outputs
    region = cost.region_cost(outputs, user_prices(tmp_path, "ap-southeast-1"))
    view = region.workload
    assert view["cheapest"] == "runpod"  # scale to zero at this volume beats always-on GPUs
    assert view["declared"].usd > 1.5 * view["platforms"]["runpod"]["month"].usd
    assert "more than 1.5x the cheapest residency-respecting placement (runpod" in view["warning"]
    assert any(line.startswith("  warning:") for line in region.notes)


def test_a_cross_border_counterpart_is_not_a_placement_for_a_residency_bound_region(synth):
    view = cost.region_cost(settled_ok(synth("cn-beijing")).outputs, SHIPPED).workload
    assert view["platforms"]["runpod"]["respectsResidency"] is False
    assert view["cheapest"] != "runpod"


def test_the_plan_diff_says_what_a_change_does_to_each_regions_monthly_cost(synth):
    from fleet import platform_cost

    before = cost.as_json(cost.region_cost(settled_ok(synth("us-east")).outputs, SHIPPED))
    after = cost.as_json(
        cost.region_cost(settled_ok(synth("us-east", overrides={"models": ["llama3.2-1b"]})).outputs, SHIPPED)
    )
    changes = platform_cost.cost_changes(before, after)
    # One model instead of three packs onto one GPU: the pool's floor drops from 2 nodes to 1 ($2.0976/h x 730).
    assert "ack GPU node pool, ecs.gn7i-c8g1.2xlarge: $3,062.50..$4,593.74 → $1,531.25..$1,531.25" in changes
    assert not [c for c in changes if c.startswith("month at minimum")]  # unknown before and after: no change shown
    assert platform_cost.cost_changes(before, before) == []
