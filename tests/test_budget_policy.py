"""The policy pack holds each region to its yearlyBudgetUsd, as `make plan` does: the region stack declares its
cost view as a beacon-fleet:cost:Budget resource, and the mandatory fleet-budget policy refuses it when over."""

from __future__ import annotations

import pytest

from fleet import cost, platform_cost
from offline import policy_check
from policy.beacon_policies import ALL_POLICIES, COST_BUDGET, _check_budget, fleet_budget
from tests.conftest import settled_ok

REGIONS = ("cn-beijing", "ap-southeast", "us-east")
SHIPPED = cost.load_prices()


def budget_resource(synthesis):
    found = [r for r in synthesis.resources if r.type == COST_BUDGET]
    assert len(found) == 1, [r.type for r in synthesis.resources if "cost" in r.type]
    return found[0]


def budget_violations(synthesis):
    return [v for v in policy_check.check_synthesis(synthesis) if v.policy == fleet_budget.name]


@pytest.mark.parametrize("stack", REGIONS)
def test_each_region_declares_the_plans_known_yearly_cost_beside_its_budget(synth, stack):
    synthesis = settled_ok(synth(stack))
    declared = budget_resource(synthesis)
    view = platform_cost.budget_view(cost.region_cost(synthesis.outputs, SHIPPED))
    assert declared.inputs["knownYearlyUsd"] == pytest.approx(view["year"].usd, abs=0.01)
    assert declared.inputs["yearlyBudgetUsd"] == view["budgetUsd"]
    assert declared.inputs["ceilingYearlyUsd"] == pytest.approx(view["ceilingYear"].usd, abs=0.01)
    assert declared.inputs["unknownParts"] == list(view["year"].missing)
    assert declared.inputs["maxima"] == view["allowedMaxima"]
    workload = synthesis.outputs["workload"]
    assert (declared.inputs["requestsPerMonth"], declared.inputs["requestsPerJob"]) == (
        workload["requestsPerMonth"],
        workload["requestsPerJob"],
    )
    # What a stack policy reads (the resource's outputs in a preview) is the same.
    assert synthesis.resource_outputs[declared.urn] == declared.inputs
    assert fleet_budget in ALL_POLICIES


@pytest.mark.parametrize("stack", REGIONS)
def test_the_pack_passes_a_region_within_its_budget(synth, stack):
    assert budget_violations(settled_ok(synth(stack))) == []


@pytest.mark.parametrize("stack", REGIONS)
def test_the_pack_refuses_a_region_over_its_budget_naming_the_dearest_and_the_cheapest_placement(synth, stack):
    synthesis = settled_ok(synth(stack, overrides={"yearlyBudgetUsd": 100}))
    found = budget_violations(synthesis)
    assert found and all(v.enforcement == "mandatory" for v in found)
    assert found[0].resource == f"{COST_BUDGET} cost-budget"
    assert "exceeds yearlyBudgetUsd ($100.00)" in found[0].message
    assert "dearest: " in found[0].message and "cheapest residency-respecting placement is" in found[0].message
    assert policy_check.mandatory(policy_check.check_synthesis(synthesis))  # `pulumi preview` fails


def test_the_pack_refuses_a_maximum_the_budget_does_not_pay_for(synth):
    synthesis = settled_ok(synth("ap-southeast", overrides={"maxReplicasPerModel": 2}))
    messages = [v.message for v in budget_violations(synthesis)]
    assert any("eas (maxReplicasPerModel) allows 2, but the budget pays for at most 1" in m for m in messages)


def test_the_policy_compares_the_figures_itself_and_says_when_one_is_missing():
    def run(props):
        found = []
        _check_budget(COST_BUDGET, props, found.append)
        return found

    assert run({"knownYearlyUsd": 10.0, "yearlyBudgetUsd": None}) == []  # no budget: nothing to hold
    assert run({"knownYearlyUsd": 10.0, "yearlyBudgetUsd": 10}) == []
    assert len(run({"knownYearlyUsd": 10.01, "yearlyBudgetUsd": 10})) == 1
    assert "missing" in run({"yearlyBudgetUsd": 10})[0]
    assert run({"knownYearlyUsd": 1, "yearlyBudgetUsd": 10, "maxima": {"x": {"configured": 3, "allowed": 3}}}) == []
    assert len(run({"knownYearlyUsd": 1, "yearlyBudgetUsd": 10, "maxima": {"x": {"configured": 4, "allowed": 3}}})) == 1


def test_an_over_budget_refusal_says_at_what_volume_and_job_size_it_was_priced():
    found = []
    props = {"knownYearlyUsd": 11.0, "yearlyBudgetUsd": 10, "requestsPerMonth": 249999, "requestsPerJob": 8}
    _check_budget(COST_BUDGET, props, found.append)
    assert len(found) == 1 and "at 249,999 requests a month in jobs of 8, $11.00, exceeds" in found[0]
