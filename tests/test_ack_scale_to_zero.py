"""ACK at minReplicasPerModel 0: the router waits out a cold start without waking the model, and the cost view
bills the woken GPU nodes' idle time and cold starts, each with its source."""

from __future__ import annotations

import pytest

from fleet import cost, cost_idle, router_entry, serving
from fleet.router_config import ALIBABA_TIMEOUT_SECONDS, TIMEOUT_LIMITS
from tests.conftest import REGION_STACKS, settled_ok

SHIPPED = cost.load_prices()


@pytest.mark.parametrize("stack", REGION_STACKS)
def test_each_ack_endpoint_says_it_cold_starts_and_the_router_waits_as_long_as_it_may_without_waking_it(synth, stack):
    outputs = settled_ok(synth(stack)).outputs
    providers = outputs["routerProviders"]["providers"]
    ack = {pid: p for pid, p in providers.items() if p["type"] == "ack"}
    assert ack
    for model_id, endpoint in outputs["ackEndpoints"].items():
        assert endpoint["scalesToZero"] is True
        assert endpoint["coldStartSeconds"] > serving.NODE_PROVISION_SECONDS + serving.IMAGE_PULL_SECONDS
        (entry,) = [p for p in ack.values() if p["models"] == [model_id]]
        assert entry["health"] == {**entry["health"], "mode": "passive", "wakes_backend": True}
        wanted = endpoint["coldStartSeconds"] + ALIBABA_TIMEOUT_SECONDS
        assert entry["timeout"] == min(TIMEOUT_LIMITS["ack"], wanted)


def test_an_ack_endpoint_that_keeps_its_pods_is_probed_and_keeps_the_ordinary_timeout():
    fields = router_entry._ack(
        {"url": "http://10.0.0.1:80/v1", "exposure": "intranet", "scalesToZero": False, "coldStartSeconds": 2000}
    )
    assert "health_mode" not in fields  # the kind's own: active
    assert "timeout" not in fields  # the Alibaba default applies


def test_a_short_cold_start_gets_exactly_the_wait_it_needs():
    fields = router_entry._ack(
        {"url": "http://10.0.0.1:80/v1", "exposure": "intranet", "scalesToZero": True, "coldStartSeconds": 200}
    )
    assert fields["timeout"] == 200 + ALIBABA_TIMEOUT_SECONDS and fields["health_mode"] == "passive"


@pytest.mark.parametrize("stack", REGION_STACKS)
def test_ack_is_priced_as_a_scale_to_zero_platform_with_idle_and_cold_start_seconds_each_sourced(synth, stack):
    region = cost.region_cost(settled_ok(synth(stack)).outputs, SHIPPED)
    (pool,) = [line for line in region.lines if line.provider == "ack" and line.what.startswith("GPU node pool")]
    assert pool.serves and pool.scales_to_zero
    assert pool.month_min.usd == 0  # no GPU node while nothing is asked
    assert pool.idle_window == serving.POD_SCALEDOWN_SECONDS + serving.NODE_UNNEEDED_SECONDS
    assert "scaledownPeriod" in pool.idle_source and "unneeded_duration" in pool.idle_source
    low, high = pool.cold_seconds
    assert high >= low + serving.NODE_PROVISION_SECONDS and "max-node-provision-time" in pool.cold_source
    # At Beacon's volume a request comes well within the window: the woken nodes bill nearly all month.
    view = region.workload
    assert "ack" in view["platforms"] and "parked" not in view["platforms"]["ack"]["coldStart"]
    idle, _most, _cold = cost_idle.idle_and_cold_seconds(
        pool, view["busySeconds"], view["requestsPerMonth"], view["requestsPerJob"]
    )
    assert idle + view["busySeconds"] > 0.9 * cost.HOURS_PER_MONTH * 3600
    # One job asks every model the pool serves at once: it wakes the pool once, not once a model.
    assert pool.models_per_job == len(settled_ok(synth(stack)).outputs["ackEndpoints"]) > 1


@pytest.mark.parametrize("stack", REGION_STACKS)
def test_the_default_failover_order_puts_eas_before_ack_whose_woken_pool_never_empties_at_beacons_volume(synth, stack):
    # EAS instances have no list price (only an upper bound), so which platform costs less is not known; what is
    # known is that at Beacon's volume ACK's woken GPU nodes bill the whole month (its idle window outlasts the gap
    # between requests), so ACK is not the default first choice.
    region = cost.region_cost(settled_ok(synth(stack)).outputs, SHIPPED)
    view = region.workload
    assert view["primary"] == "eas"
    (pool,) = [line for line in region.lines if line.provider == "ack" and line.what.startswith("GPU node pool")]
    mean_gap = cost.HOURS_PER_MONTH * 3600 / view["requestsPerMonth"]
    assert pool.idle_window > 10 * mean_gap
    ack_month, ack_ceiling = view["platforms"]["ack"]["month"], pool.month_max
    assert ack_month.usd >= 0.9 * ack_ceiling.usd  # at the expected volume, ACK costs about its nodes at maximum
