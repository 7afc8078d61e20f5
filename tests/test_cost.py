"""Cost in the plan: the study's arithmetic, unknown prices kept unknown, and packing savings from the planner."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from fleet import cost, platform_cost
from fleet.capacity import region_packing
from fleet.config_schema import load_project_schema
from fleet.settings import parse_settings
from offline.plan import main as plan_main
from offline.report import plan_document
from offline.stack_files import load_stack_config
from tests.conftest import REGION_STACKS, settled_ok, with_overrides

SHIPPED = cost.load_prices()
# The fleet as it was before it was sized to Beacon: ACK and EAS, one replica per model always on.
ALWAYS_ON = {
    "servingPlatforms": ["eas", "ack"],
    "minReplicasPerModel": 1,
    "maxReplicasPerModel": 2,
    "counterpartMaxWorkers": 2,
    "yearlyBudgetUsd": "",
}
NODE_HOURLY, EAS_HOURLY, CPU_HOURLY = 1.25, 1.5, 0.2  # made-up test prices, in a test's own file only
# What no public source gives (../shared/reference/prices-2026-11.md), so the shipped plans name it as unknown.
UNSOURCED = ("alibaba.ecs.ecs.g7.xlarge.", "fc.idle-window")

# Models that start cold on FC within the router's limit (mistral-7b at fp16 does not: fleet/settings/fc.py).
FC_FIT = {"models": ["llama3.2-1b", "qwen2.5-1.5b"]}


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


def test_a_sum_keeps_its_known_part_and_names_its_unknown_parts_never_only_unknown(synth):
    outputs = settled_ok(synth("us-east", overrides=ALWAYS_ON)).outputs
    region = cost.region_cost(outputs, SHIPPED)
    assert not region.month_max.known and region.month_max.usd > 0
    assert region.missing() == ["alibaba.ecs.ecs.g7.xlarge.us-east-1"]  # the system pool's CPU type: no source
    known_plus_unknown = cost.Amount(100.0) + cost.Amount(None, ("x",))
    assert known_plus_unknown.usd == 100.0 and known_plus_unknown.missing == ("x",)
    assert cost.total([cost.Amount(1.0), cost.Amount(None, ("a",)), cost.Amount(2.0)]).text() == "$3.00 + unknown (a)"
    # A price known only as an upper bound widens the range, never the known figure.
    bounded = cost.Amount(10.0) + cost.Amount(0.0, upper=5.0)
    assert (bounded.usd, bounded.upper, bounded.text()) == (10.0, 15.0, "$10.00 to $15.00")


def test_pai_eas_is_priced_at_its_sources_upper_bound_converted_at_the_cited_rate(synth):
    outputs = settled_ok(synth("us-east", overrides=ALWAYS_ON)).outputs
    eas = next(line for line in cost.region_cost(outputs, SHIPPED).lines if line.provider == "eas")
    instances = sum(e["autoscaler"]["min"] for e in outputs["easEndpoints"].values())
    # ecs.gn7i-c8g1.2xlarge: at most CNY 15 an hour (cn-shanghai), x 0.138 USD/CNY.
    assert eas.month_min.usd == 0 and eas.month_min.upper == pytest.approx(instances * 15 * 0.138 * 730)
    assert SHIPPED.get("alibaba.eas.ecs.gn7i-c8g1.2xlarge").converted == "CNY 15/hour at 0.138 USD/CNY (fx.CNY.USD)"


def test_nothing_costs_nothing_whatever_its_price():
    assert cost.Amount(None, ("p",)).times(0) == cost.Amount(0.0)


def test_known_prices_give_the_arithmetic_of_nodes_instances_and_workers(synth, tmp_path):
    outputs = settled_ok(synth("ap-southeast", overrides={**ALWAYS_ON, "counterpartGpus": ["AMPERE_24"]})).outputs
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
    assert region.missing() == []  # the LB's LCU fee now has a source


def test_packing_savings_match_the_planner(synth, tmp_path):
    values = with_overrides(load_stack_config("ap-southeast"), ALWAYS_ON, ()).values
    settings = parse_settings(load_project_schema(), "ap-southeast", values, frozenset())
    planned = region_packing(settings)
    outputs = settled_ok(synth("ap-southeast", overrides=ALWAYS_ON)).outputs
    region = cost.region_cost(outputs, user_prices(tmp_path, "ap-southeast-1"))
    assert (region.gpus_packed, region.gpus_whole) == (planned.gpus_needed, len(planned.gpus) + planned.gpus_saved)
    assert region.packing_saving_month.usd == pytest.approx(planned.gpus_saved * NODE_HOURLY * 730)
    assert planned.gpus_saved >= 1


def test_each_shipped_region_plan_carries_its_cost_and_names_the_prices_it_lacks(synth):
    for stack in ("cn-beijing", "ap-southeast", "us-east"):
        document = plan_document(load_stack_config(stack), settled_ok(synth(stack)))
        costs = document["cost"]
        assert costs["hoursPerMonth"] == 730 and costs["latencySeconds"] == 2.0
        assert {line["provider"] for line in costs["lines"]} >= {"eas"}
        assert costs["monthMax"]["usd"] > 0 and costs["headline"]["year"]["usd"] > 0
        assert all(p.startswith(UNSOURCED) for p in costs["missingPrices"])


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
    # At a quoted EAS price, EAS's month (kept warm by its 600 s grace period at ~2 requests a minute) is known
    # and puts us-east over its $3,000 budget: the plan fails, naming the dearest platform, the cheapest
    # placement and the key to change.
    assert plan_main(argv) == 1
    captured = capsys.readouterr()
    fleet = json.loads(captured.out)
    assert "over budget (yearlyBudgetUsd)" in captured.err and "exceeds yearlyBudgetUsd ($4,000.00)" in captured.err
    assert "dearest: eas $" in captured.err and "cheapest residency-respecting placement is" in captured.err
    eas = next(line for line in fleet["regions"][0]["lines"] if line["provider"] == "eas")
    assert eas["monthMin"]["usd"] == 0  # sized to Beacon: EAS scales to zero
    assert eas["monthMax"]["usd"] == pytest.approx(3 * EAS_HOURLY * 730)  # 1 instance for each of 3 models
    assert eas["perMillionInferences"]["usd"] == pytest.approx(EAS_HOURLY / 3600 * 2 * 1e6)
    assert fleet["monthMin"]["complete"] is False and fleet["monthMin"]["usd"] > 0  # the system pool: named
    assert fleet["monthMin"]["missingPrices"] == ["alibaba.ecs.ecs.g7.xlarge.us-east-1"]
    assert fleet["headline"]["year"]["usd"] > 4000 and fleet["headline"]["perEndpointYear"]["usd"] > 0
    assert fleet["regions"][0]["budget"]["over"] is True
    assert fleet["study"]["rows"][0]["annualUsd"] == 2952.0

    # At the shipped prices (EAS known only as a bound) the known cost is within the budget: the plan passes,
    # and shows the budget beside the ceiling.
    assert plan_main(["--stack", "us-east", "--view", "cost", "--out", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "PER 1M @ 2s" in table and "Region us-east-1: $" in table and "a year" in table
    assert "Budget $4,000.00 a year: known cost $" in table and "ceiling (every platform at its configured" in table
    assert "$2,952/year" in table


def test_a_maximum_above_what_the_budget_pays_for_fails_naming_the_key_and_the_value(synth):
    overrides = {"maxReplicasPerModel": 2, "fcMaxInstances": 3, "servingPlatforms": ["eas", "ack", "fc"], **FC_FIT}
    outputs = settled_ok(synth("ap-southeast", overrides=overrides)).outputs
    view = platform_cost.budget_view(cost.region_cost(outputs, SHIPPED))
    assert view["budgetUsd"] == 4000 and not view["over"]
    assert view["allowedMaxima"]["eas (maxReplicasPerModel)"] == {"configured": 2, "allowed": 1, "unit": "per model"}
    assert any("lower maxReplicasPerModel to 1 or raise yearlyBudgetUsd" in p for p in view["problems"])
    assert any("lower fcMaxInstances to 1" in p for p in view["problems"])
    # Every scale-to-zero platform of the shipped region has its maximum bounded by the budget.
    shipped = platform_cost.budget_view(cost.region_cost(settled_ok(synth("ap-southeast")).outputs, SHIPPED))
    assert set(shipped["allowedMaxima"]) == {
        "ack (maxReplicasPerModel)",
        "eas (maxReplicasPerModel)",
        "runpod (counterpartMaxWorkers)",
    }
    assert shipped["problems"] == [] and shipped["ceilingYear"].usd > shipped["budgetUsd"]


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
        assert all(p.startswith(UNSOURCED) for p in missing), (stack, missing)


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
FC_ADA = {"servingPlatforms": ["fc"], "fcGpuType": "fc.gpu.ada.1", **FC_FIT}


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
    overrides = {"costWarningMultiple": "1.5", "counterpartIdleTimeoutSeconds": 5}
    outputs = settled_ok(synth("ap-southeast", overrides=overrides)).outputs
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

    before = cost.as_json(cost.region_cost(settled_ok(synth("us-east", overrides=ALWAYS_ON)).outputs, SHIPPED))
    one_model = {**ALWAYS_ON, "models": ["llama3.2-1b"]}
    after = cost.as_json(cost.region_cost(settled_ok(synth("us-east", overrides=one_model)).outputs, SHIPPED))
    changes = platform_cost.cost_changes(before, after)
    # One model instead of three packs onto one GPU: the pool's floor drops from 2 nodes to 1 ($2.0976/h x 730).
    assert "ack GPU node pool, ecs.gn7i-c8g1.2xlarge: $3,062.50..$4,593.74 → $1,531.25..$1,531.25" in changes
    # The region's totals keep their known part, so the diff shows what the change does to them, yearly too.
    assert any(c.startswith("month at minimum: $") and "(-" in c for c in changes)
    assert any(c.startswith("year at the expected volume: $") for c in changes)
    # With a budget, the diff says what the change does to it.
    budgeted = {**one_model, "yearlyBudgetUsd": "4000"}
    cheaper = cost.as_json(cost.region_cost(settled_ok(synth("us-east", overrides=budgeted)).outputs, SHIPPED))
    said = [
        c for c in platform_cost.cost_changes(after, cheaper) if c.startswith("budget (yearlyBudgetUsd): no budget →")
    ]
    assert said and said[0].endswith("over budget: the plan fails")  # ACK and EAS kept warm cost more than $4,000
    assert platform_cost.cost_changes(before, before) == []


# --- sized to Beacon: the headline, idle and cold starts, break-even, the mainland's own costs ----------------

SHIPPED_STACKS = ("cn-beijing", "ap-southeast", "us-east")


def test_the_shipped_fleets_month_at_minimum_fell_from_9473_to_at_most_1500_with_only_the_cpu_pool_unpriced(synth):
    now = [cost.region_cost(settled_ok(synth(s)).outputs, SHIPPED) for s in SHIPPED_STACKS]
    before = [cost.region_cost(settled_ok(synth(s, overrides=ALWAYS_ON)).outputs, SHIPPED) for s in SHIPPED_STACKS]
    floor_now, floor_before = cost.total(r.month_min for r in now), cost.total(r.month_min for r in before)
    assert floor_before.upper >= 9473 and floor_now.upper <= 1500
    # Every always-on line is priced but the ACK system pool's CPU type, which no stored source prices.
    assert all(m.startswith("alibaba.ecs.ecs.g7.xlarge.") for m in floor_now.missing)
    for region in now:
        always_on = [line for line in region.lines if line.month_min.usd or line.month_min.missing]
        assert always_on and all(line.month_min.known or "system pool" in line.what for line in always_on)


def test_no_headline_reads_only_unknown_in_the_plan_the_cost_json_or_the_diff(tmp_path, capsys, shared_plan_syntheses):
    assert plan_main(["--view", "cost", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "Fleet, 3 regions: $" in text and " a year; per endpoint (9) $" in text
    assert not [line for line in text.splitlines() if line.rstrip().endswith(": unknown")]
    assert plan_main(["--view", "cost-json", "--out", str(tmp_path)]) == 0
    headline = json.loads(capsys.readouterr().out)["headline"]
    assert headline["year"]["usd"] > 0 and headline["endpoints"] == 9
    assert headline["year"]["missingPrices"] == [
        f"alibaba.ecs.ecs.g7.xlarge.{r}" for r in ("ap-southeast-1", "cn-beijing", "us-east-1")
    ]
    assert headline["perEndpointYear"]["usd"] == pytest.approx(headline["year"]["usd"] / 9)
    assert headline["ceilingMonth"]["usd"] > headline["monthAtMinimum"]["usd"]


def test_scale_to_zero_lines_bill_idle_seconds_and_cold_starts_each_with_its_source(synth):
    overrides = {"servingPlatforms": ["eas", "fc"], "counterpartIdleTimeoutSeconds": 60, "requestsPerJob": 1, **FC_FIT}
    region = cost.region_cost(settled_ok(synth("ap-southeast", overrides=overrides)).outputs, SHIPPED)
    lines = {line.provider: line for line in region.lines if line.scales_to_zero}
    assert set(lines) == {"eas", "fc", "runpod"}
    assert "FC 3.0 GPU docs" in lines["fc"].cold_source and "not published" in lines["fc"].idle_source
    assert "FlashBoot" in lines["runpod"].cold_source and "idle_timeout" in lines["runpod"].idle_source
    assert "onZero.scaleDownGracePeriodSeconds" in lines["eas"].idle_source
    # RunPod: 83,333 requests a model a month, Poisson; after each request a worker waits min(gap, 60 s).
    runpod, requests = lines["runpod"], region.workload["requestsPerMonth"]
    rate = requests / len(FC_FIT["models"]) / (730 * 3600)
    idle = (1 - math.exp(-rate * 60)) / rate * requests
    cold = requests * math.exp(-rate * 60)
    busy = requests * 2
    flex = runpod.usage_rate.usd
    usage = region.workload["platforms"]["runpod"]["usage"]
    assert usage.usd == pytest.approx(flex * (busy + idle + cold * runpod.cold_seconds[0]))
    # The high end runs cold starts to the startup budget, but never past every worker busy all month.
    room = runpod.month_max.upper - runpod.month_min.usd
    assert usage.upper == pytest.approx(min(flex * (busy + idle + cold * runpod.cold_seconds[1]), room))
    # FC: how long an idle instance is kept has no source, so it is an unknown part, named.
    assert region.workload["platforms"]["fc"]["usage"].missing == ("fc.idle-window",)
    modal = cost.region_cost(settled_ok(synth("us-east")).outputs, SHIPPED)
    modal_line = next(line for line in modal.lines if line.provider == "modal")
    assert modal_line.scales_to_zero and "Modal 2-4 s" in modal_line.cold_source


def test_a_job_asks_a_model_its_questions_in_turn_so_a_worker_idles_and_starts_cold_once_a_job(synth):
    # Beacon's runner asks each model a job's 8 questions one after another: the worker waits out its idle window
    # once after the job (and starts cold once); between questions it waits for the slowest model, nothing at the
    # plan's one latency for every model, at most the window (the range's high end).
    overrides = {"counterpartIdleTimeoutSeconds": 60, "requestsPerJob": 8}
    region = cost.region_cost(settled_ok(synth("ap-southeast", overrides=overrides)).outputs, SHIPPED)
    runpod = next(line for line in region.lines if line.provider == "runpod")
    requests, models = region.workload["requestsPerMonth"], runpod.models
    jobs = requests / models / 8
    rate = jobs / (730 * 3600)
    idle = (1 - math.exp(-rate * 60)) / rate * jobs * models
    cold = jobs * math.exp(-rate * 60) * models
    usage = region.workload["platforms"]["runpod"]["usage"]
    flex = runpod.usage_rate.usd
    assert usage.usd == pytest.approx(flex * (requests * 2 + idle + cold * runpod.cold_seconds[0]))
    between = 7 * 60 * jobs * models  # seven waits of at most the window in each job
    room = runpod.month_max.upper - runpod.month_min.usd
    assert usage.upper == pytest.approx(
        min(flex * (requests * 2 + idle + between + cold * runpod.cold_seconds[1]), room)
    )
    # Fewer idle windows and cold starts than requests arriving one at a time: the job's size matters.
    alone = cost.region_cost(
        settled_ok(synth("ap-southeast", overrides={**overrides, "requestsPerJob": 1})).outputs, SHIPPED
    )
    assert usage.usd < alone.workload["platforms"]["runpod"]["usage"].usd


@pytest.mark.parametrize("stack", REGION_STACKS)
def test_no_line_bills_more_at_the_expected_volume_than_its_ceiling_allows(synth, stack):
    region = cost.region_cost(settled_ok(synth(stack)).outputs, SHIPPED)
    view = region.workload
    capped = [line for line in region.lines if line.month_max.known and line.provider in view["platforms"]]
    assert capped
    reached = []
    for line in capped:
        usage = platform_cost._usage(line, view["busySeconds"], view["requestsPerMonth"], view["requestsPerJob"])
        per_request = line.per_request.times(view["requestsPerMonth"]).upper
        room = line.month_max.upper - line.month_min.usd
        assert usage.upper - per_request <= room + 1e-6, line.what
        reached += [line.what] if usage.upper - per_request == pytest.approx(room) else []
    # The cap is what holds some line: its cold starts at the startup budget would bill more than a month.
    assert reached


def test_dedicated_platforms_say_at_what_volume_they_beat_the_serverless_ones(synth):
    view = cost.region_cost(settled_ok(synth("us-east")).outputs, SHIPPED).workload
    modal_per_request = view["platforms"]["modal"]["month"].usd / view["requestsPerMonth"]
    eas = view["breakEven"]["eas"]
    assert eas["against"] == "modal"
    assert eas["requestsPerMonth"] == int(15 * 0.138 * 730 / modal_per_request)  # the EAS bound, CNY 15/h
    # A residency-bound region has no serverless platform in its jurisdiction to compare with.
    assert cost.region_cost(settled_ok(synth("cn-beijing")).outputs, SHIPPED).workload["breakEven"] == {}


def test_a_mainland_region_names_the_studys_one_off_and_yearly_operating_costs(synth):
    region = cost.region_cost(settled_ok(synth("cn-beijing")).outputs, SHIPPED)
    items = {o["id"]: o for o in region.operating}
    assert set(items) == {"study.china.icp-licence", "study.china.business-registration", "study.china.compliance"}
    assert (items["study.china.icp-licence"]["amount"].usd, items["study.china.icp-licence"]["amount"].upper) == (
        500,
        1000,
    )
    assert (
        items["study.china.compliance"]["kind"] == "yearly"
        and "2025-10-02" in items["study.china.compliance"]["source"]
    )
    assert region.year().usd == pytest.approx(region.month.usd * 12 + 10_000)
    assert region.one_off().usd == 5_500
    assert cost.region_cost(settled_ok(synth("ap-southeast")).outputs, SHIPPED).operating == ()


def test_every_price_the_december_reference_gives_is_in_the_table_with_its_trust_note():
    for price_id in (
        "alibaba.clb.lcu",
        "alibaba.clb.lcu.china-site",
        "alibaba.clb.instance.china-site",
        "alibaba.oss.standard.ZRS",
        "alibaba.eas.ecs.gn7i-c8g1.2xlarge",
        "alibaba.eas.ml.gu7i.c8m30.1-gu30",
        "alibaba.eas.ecs.gn6e-c12g1.3xlarge",
        "fc.factor.gpu.fc.gpu.ada.1.idle",
        "fx.CNY.USD",
    ):
        price = SHIPPED.get(price_id)
        assert price and price.trust and price.source and price.date, price_id
    assert SHIPPED.get("alibaba.eas.ecs.gn7i-c8g1.2xlarge").bound == "upper"
    assert SHIPPED.get("alibaba.oss.standard.ZRS").amount == pytest.approx(0.15 * 0.138)


def test_a_price_in_another_currency_needs_the_tables_own_rate(tmp_path):
    path = tmp_path / "cny.yaml"
    entry = {"id": "x.y", "what": "w", "amount": 1, "currency": "EUR", "unit": "hour", "source": "s", "date": "d"}
    path.write_text(yaml.safe_dump({"prices": [entry]}), encoding="utf-8")
    with pytest.raises(cost.PriceTableError, match=r"x.y\): a EUR price needs fx.EUR.USD"):
        cost.load_prices([cost.PRICES_PATH, path])


def test_the_readme_states_the_default_fleets_cost_as_the_plan_computes_it(synth):
    regions = [cost.region_cost(settled_ok(synth(s)).outputs, SHIPPED) for s in SHIPPED_STACKS]
    view = platform_cost.headline(regions)
    readme = (cost.PRICES_PATH.parent.parent / "README.md").read_text(encoding="utf-8")
    assert f"**${view['monthAtMinimum'].usd:,.0f} a month**" in readme
    assert f"**${view['year'].usd:,.0f} a year** known at Beacon's volume" in readme


def test_the_unpriced_system_pool_says_why_it_keeps_its_cpu_type_rather_than_a_priced_one(synth):
    region = cost.region_cost(settled_ok(synth("us-east")).outputs, SHIPPED)
    pool = next(line for line in region.lines if line.what.startswith("ACK system pool"))
    assert not pool.month_min.known
    assert "no stored source prices a CPU-only ECS type" in pool.basis
    # The cheapest type the table prices in the region is named with its price: a GPU node, dearer than a CPU one.
    cheapest = min(
        (
            p
            for p in SHIPPED.prices.values()
            if p.id.startswith("alibaba.ecs.") and p.id.endswith(".us-east-1") and p.unit == "hour"
        ),
        key=lambda p: p.per_second,
    )
    name = cheapest.id.removeprefix("alibaba.ecs.").removesuffix(".us-east-1")
    assert name.startswith("ecs.gn")  # ECS's GPU families: gn6i (T4), gn7i (A10), gn8is (L20)
    assert f"{name} at ${cheapest.per_second * 3600:.4f}/h, is a GPU node" in pool.basis
