"""The mocks harness: every test gets fresh mocks, a fresh root stack and fresh config.

Programs run through offline.engine.synthesize, the same path `make plan` takes: __main__.py executed as the
language host executes it, every RPC and Output awaited before anything is read. Helpers here fail loudly
when a query finds nothing, so an assertion over an empty list cannot pass vacuously.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime import settings as runtime_settings

from fleet.config_schema import PROJECT_ROOT, encode_config_value, load_project_schema
from offline.engine import Synthesis, synthesize
from offline.stack_files import StackConfig, load_stack_config, region_stacks, shipped_stacks

PROJECT = load_project_schema().project
# Derived from the Pulumi.<stack>.yaml files, so a new region's file is tested with no edit here.
SHIPPED_STACKS = shipped_stacks()
REGION_STACKS = region_stacks()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked slow run first, in file order, the rest after them as collected. `make test` spreads the
    suite over every core (pytest-xdist, which hands out tests in this order): a test of tens of seconds started
    near the end would keep one worker busy long after the others ran out of work."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def fresh_runtime():
    """No config, root stack or pending work may leak from one test into the next."""
    pulumi.runtime.set_all_config({}, [])
    runtime_settings.ROOT.set(None)
    yield
    pulumi.runtime.set_all_config({}, [])
    runtime_settings.ROOT.set(None)


def with_overrides(
    config: StackConfig, overrides: Mapping[str, Any] | None = None, remove: tuple[str, ...] = ()
) -> StackConfig:
    """The stack's config with project keys overridden (YAML values) or removed."""
    values = dict(config.values)
    for key, value in (overrides or {}).items():
        values[key if ":" in key else f"{PROJECT}:{key}"] = encode_config_value(value)
    for key in remove:
        values.pop(key if ":" in key else f"{PROJECT}:{key}", None)
    return StackConfig(config.stack, values, config.secret_keys, config.placeholders)


# One synthesis per program input per test session (per xdist worker): most tests read the same few programs'
# results, and a synthesis costs far more than a copy of its result. The program is deterministic (the plan's
# byte-identical JSON is tested with real, unshared runs), so the same input gives the same result.
_SHARED: dict[str, Synthesis] = {}


def shared_synthesize(
    stack: str,
    config: Mapping[str, str],
    secret_keys: tuple[str, ...] | list[str] = (),
    program_dir: str = str(PROJECT_ROOT),
    stacks: Mapping[str, Any] | None = None,
) -> Synthesis:
    """offline.engine.synthesize, run once per distinct input per session; each caller gets its own deep copy, so
    a test that edits its result (to break it on purpose) changes nothing another test sees."""
    key = repr((stack, sorted(config.items()), tuple(secret_keys), program_dir, stacks))
    if key not in _SHARED:
        _SHARED[key] = synthesize(stack, config, secret_keys, program_dir, stacks)
    return copy.deepcopy(_SHARED[key])


def shared_synthesis(stack: str, overrides: Mapping[str, Any] | None = None, remove: tuple[str, ...] = ()) -> Synthesis:
    """A shipped stack's synthesis (with overrides), computed once per session (shared_synthesize)."""
    config = with_overrides(load_stack_config(stack), overrides, remove)
    return shared_synthesize(stack, config.values, config.secret_keys)


@pytest.fixture
def shared_plan_syntheses(monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m offline.plan` (offline.plan.main) with its syntheses shared: for tests of what the command prints
    and writes, which run all of its own code on results a synthesis of the same input gave."""
    from offline import plan

    monkeypatch.setattr(plan, "synthesize", shared_synthesize)


_SHARED_PLAN: dict[str, Synthesis] = {}


@contextlib.contextmanager
def _plan_sharing_syntheses() -> Iterator[None]:
    """offline.plan synthesizing through shared_synthesize: the shipped stacks' syntheses shared with
    shared_synthesis's, whichever of the two asks first."""
    from offline import plan

    real = plan.synthesize
    plan.synthesize = shared_synthesize
    try:
        yield
    finally:
        plan.synthesize = real


def shared_plan() -> dict[str, Synthesis]:
    """Every shipped stack planned as `make plan` plans it (regions first, the router from their outputs), once per
    session; a deep copy per caller, as shared_synthesis."""
    if not _SHARED_PLAN:
        from offline import plan

        configs = [load_stack_config(stack) for stack in SHIPPED_STACKS]
        with _plan_sharing_syntheses():
            _SHARED_PLAN.update({config.stack: synthesis for config, synthesis in plan.plan_stacks(configs)})
    return copy.deepcopy(_SHARED_PLAN)


@pytest.fixture
def synth(request: pytest.FixtureRequest) -> Callable[..., Synthesis]:
    """synth("cn-beijing", overrides={...}) runs a shipped stack's program under fresh mocks.

    The result is shared (shared_synthesis) unless the test patches something with `monkeypatch`: then what it
    patched must shape the program's run, so the stack is synthesized afresh."""
    fresh = "monkeypatch" in request.fixturenames

    def run(stack: str, overrides: Mapping[str, Any] | None = None, remove: tuple[str, ...] = ()) -> Synthesis:
        if not fresh:
            return shared_synthesis(stack, overrides, remove)
        config = with_overrides(load_stack_config(stack), overrides, remove)
        return synthesize(stack, config.values, config.secret_keys)

    return run


@pytest.fixture
def stack_file(tmp_path: Path) -> Callable[[str, Mapping[str, Any]], StackConfig]:
    """Write a temporary Pulumi.<stack>.yaml, as a user adding a region would, and load it."""

    def write(stack: str, config: Mapping[str, Any]) -> StackConfig:
        path = tmp_path / f"Pulumi.{stack}.yaml"
        path.write_text(yaml.safe_dump({"config": dict(config)}, allow_unicode=True), encoding="utf-8")
        return load_stack_config(stack, path)

    return write


def settled_ok(result: Synthesis) -> Synthesis:
    assert result.ok, result.error
    assert result.resources, "the program declared nothing"
    return result


def inputs_json(resource) -> str:
    return json.dumps(resource.inputs, sort_keys=True, default=str)


def model_releases(result: Synthesis) -> list:
    """The Helm releases of charts/inference-server, one per model on ACK (not the cluster add-ons' charts, which
    come from a chart repository)."""
    return [
        r
        for r in result.resources
        if r.type == "kubernetes:helm.sh/v3:Release" and not (r.inputs.get("repositoryOpts") or {}).get("repo")
    ]


def us_east_release_values() -> dict[str, Any]:
    """The chart values beacon-fleet computes for us-east's first model, with placeholder cloud inputs."""
    from fleet import inference_chart
    from fleet.settings import parse_settings

    config = load_stack_config("us-east")
    settings = parse_settings(load_project_schema(), "us-east", config.values, frozenset(config.secret_keys))
    cloud = inference_chart.CloudValues(
        image="registry-vpc.us-east-1.cr.aliyuncs.com/beacon/inference-server@sha256:" + "0" * 64,
        bucket="beacon-models-us-east",
        load_balancer_id="lb-test",
        acl_id="",
        load_balancer_address="10.30.8.21",
        port=80,
    )
    values = inference_chart.release_values(settings, settings.models[0], role_name="beacon-us-east-serving")
    return inference_chart.with_cloud_values(values, cloud)


@pytest.fixture(scope="session")
def fleet_plan(tmp_path_factory) -> Callable[[str], Any]:
    """fleet_plan("mvp") plans that fleet as `make plan FLEET=mvp` does (router included), once per session; its
    syntheses are shared (the default fleet's are the shipped stacks')."""
    from offline.fleets import plan_fleet

    plans: dict[str, Any] = {}

    def get(fleet: str):
        if fleet not in plans:
            with _plan_sharing_syntheses():
                plans[fleet] = plan_fleet(fleet, tmp_path_factory.mktemp(f"plan-{fleet}"))
        return plans[fleet]

    return get


def router_label(stack: str) -> str:
    """The router label (routerRegion) a shipped region stack's file declares."""
    return load_stack_config(stack).values[f"{PROJECT}:routerRegion"]


def served_models(stack: str) -> set[str]:
    """The catalog ids a shipped region stack's file (or Pulumi.yaml's default) says it serves."""
    return {str(m).split(":", 1)[0] for m in json.loads(load_stack_config(stack).values[f"{PROJECT}:models"])}


# Derived from the stack files like REGION_STACKS: the router label of each region stack.
ROUTER_LABELS = {stack: router_label(stack) for stack in REGION_STACKS}


def serving_platforms(stack: str) -> list[str]:
    """The Alibaba platforms a shipped region stack's file (or Pulumi.yaml's default) says it serves on."""
    return list(json.loads(load_stack_config(stack).values[f"{PROJECT}:servingPlatforms"]))


def stacks_on(*platforms: str) -> list[str]:
    """The region stacks that serve on any of these platforms (ack, eas, fc), from their files; a region served by
    its counterpart alone is in none, so tests of what a platform declares skip it."""
    return [stack for stack in REGION_STACKS if set(serving_platforms(stack)) & set(platforms)]


# Region stacks that declare anything on Alibaba Cloud (a VPC, a bucket, a registry): every platform but none.
ALIBABA_STACKS = [stack for stack in REGION_STACKS if serving_platforms(stack)]
