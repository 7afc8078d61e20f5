"""The program's tables agree with the simulated cloud's facts (offline/cloud_facts.json), which have sources.

The simulated cloud no longer imports the program's tables (tests/test_layers.py), so a wrong table is caught
twice: here, where it disagrees with the fact it must match, and in the plan, where the cloud holds the program
to the fact rather than to the program's own figure.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re

import pytest

from fleet import capacity, catalog, eas, fc, gpus, serving
from offline import cloud_facts, real_cloud
from offline.cloud_facts import PROJECT_ROOT


def disagreements() -> list[str]:
    """Every place a program table says other than the cloud's facts, one line each."""
    found: list[str] = []

    def differ(what: str, program: object, fact: object, fact_name: str) -> None:
        if program != fact:
            found.append(f"{what}: the program says {program!r}, {fact_name} in offline/cloud_facts.json {fact!r}")

    families = cloud_facts.value("ecs_gpu_families")
    differ("GPU families", sorted(gpus.GPU_FAMILIES), sorted(families), "ecs_gpu_families")
    for name, family in gpus.GPU_FAMILIES.items():
        fact = families.get(name, {})
        differ(f"{name} GPU", family.gpu, fact.get("gpu"), "ecs_gpu_families")
        differ(f"{name} GPU memory (GB)", family.memory_gib, fact.get("memory_gb"), "ecs_gpu_families")
        differ(f"{name} NVML MiB", family.nvml_mib, fact.get("nvml_mib"), "ecs_gpu_families")
        cloud = real_cloud.gpu_family_of(fact["instance_types"][0]) if fact.get("instance_types") else None
        differ(
            f"{name} cGPU schedulable GiB",
            family.schedulable_gib,
            cloud.schedulable_gib if cloud else None,
            "ecs_gpu_families and ack_gpushare_units",
        )
        differ(
            f"{name} instance types (ECS and EAS)",
            list(gpus.INSTANCE_TYPES.get(name, ())),
            fact.get("instance_types"),
            "ecs_gpu_families",
        )
        shape = re.compile(cloud_facts.value("ecs_gpu_type_shape"))
        for instance_type in gpus.INSTANCE_TYPES.get(name, ()):
            if not shape.match(instance_type) or not gpus.looks_like_gpu_type(instance_type):
                found.append(f"{instance_type}: not named like an ECS GPU type (ecs_gpu_type_shape)")

    models = cloud_facts.value("models")
    for spec in catalog.BUILTIN_MODELS.values():
        fact = models.get(spec.hf_repo)
        if fact is None:
            found.append(f"{spec.id}: {spec.hf_repo} has no config.json figures in models")
            continue
        for key, figure in fact.items():
            differ(f"{spec.id} {key}", getattr(spec, key), figure, "models")
    per_parameter = cloud_facts.value("vllm_weight_bytes_per_parameter")
    for dtype, size in catalog.DTYPE_BYTES.items():
        flags = eas.vllm_dtype(dtype)
        key = f"{flags[0]}+{flags[1]}" if flags[1] else flags[0]
        if key in per_parameter:  # --dtype auto alone: the checkpoint's own dtype, which no fact gives
            differ(f"bytes per parameter of {dtype} (vLLM {key})", size, per_parameter[key], "vllm_weight_bytes")
    differ("KV cache bytes", capacity.KV_CACHE_BYTES, cloud_facts.value("vllm_kv_cache_bytes_per_element"), "kv")
    differ("pods per GPU", capacity.MAX_PODS_PER_GPU, cloud_facts.value("ack_gpu_pods_per_gpu"), "ack_gpu_pods")

    fc_types = cloud_facts.value("fc_gpu_types")
    differ("FC GPU types", sorted(fc.FC_GPU_TYPES), sorted(fc_types), "fc_gpu_types")
    for name, gpu_type in fc.FC_GPU_TYPES.items():
        fact = fc_types.get(name, {})
        differ(f"FC {name} GPU", gpu_type.gpu, fact.get("gpu"), "fc_gpu_types")
        differ(f"FC {name} largest gpuMemorySize", gpu_type.max_memory_mb, fact.get("max_memory_mb"), "fc_gpu_types")
    differ("FC gpuMemorySize step", fc.MEMORY_STEP_MB, cloud_facts.value("fc_gpu_memory_step_mb"), "fc_gpu_memory")
    differ("FC GPU regions", list(fc.FC_GPU_REGIONS), cloud_facts.value("fc_gpu_regions"), "fc_gpu_regions")
    low, high = cloud_facts.value("fc_health_check_ranges")["timeoutSeconds"]
    if not low <= fc.HEALTH_CHECK_TIMEOUT_SECONDS <= high:
        found.append(f"FC health-check timeout {fc.HEALTH_CHECK_TIMEOUT_SECONDS} s is outside {low}-{high}")

    schedule = cloud_facts.value("ack_gpu_schedule_label")
    differ("cGPU schedule label", serving.GPU_SCHEDULE_LABEL, schedule["label"], "ack_gpu_schedule_label")
    differ("driver label", serving.NVIDIA_DRIVER_LABEL, cloud_facts.value("ack_nvidia_driver_label"), "driver label")
    if serving.NVIDIA_DRIVER_VERSION not in cloud_facts.value("ack_nvidia_drivers"):
        found.append(f"driver {serving.NVIDIA_DRIVER_VERSION} is not in ACK's list (ack_nvidia_drivers)")
    differ("the serving image's CUDA", serving.SERVING_CUDA, real_cloud.serving_image_cuda(), "vllm_cuda_generation")
    image = cloud_facts.value("serving_image")
    differ("the serving port", serving.SERVING_PORT, image["default_port"], "serving_image")
    if serving.ACR_HELPER_ADDON not in cloud_facts.value("ack_acr_credential_helper")["addons"]:
        found.append(f"{serving.ACR_HELPER_ADDON} is not an ACR credential helper add-on ACK offers")
    if serving.KEDA_ADDON not in cloud_facts.value("ack_keda_addons"):
        found.append(f"{serving.KEDA_ADDON} is not ACK's KEDA add-on (ack_keda_addons)")
    if serving.HTTP_ADDON_CHART not in cloud_facts.value("keda_http_addon_charts"):
        found.append(f"{serving.HTTP_ADDON_CHART} is not KEDA's HTTP add-on chart (keda_http_addon_charts)")
    endpoints = cloud_facts.value("oss_endpoints")
    differ("OSS internal endpoint", serving.oss_internal_endpoint("r"), endpoints["internal"].format(region="r"), "oss")
    differ("OSS public endpoint", serving.oss_public_endpoint("r"), endpoints["public"].format(region="r"), "oss")

    # Estimates: the program's budgets must cover the simulation's (a budget below them fails the plan anyway).
    provision = cloud_facts.value("eas_provision_estimate_seconds")
    if provision > eas.PROVISION_SECONDS:
        found.append(f"EAS provisioning budget {eas.PROVISION_SECONDS} s is below the estimate of {provision} s")
    load = cloud_facts.value("model_load_estimate")
    for spec in catalog.BUILTIN_MODELS.values():
        weights = capacity.estimate_memory(spec, catalog.DEFAULT_DTYPE, 1, 1).weights_gib
        estimate = math.ceil(load["base_seconds"] + load["seconds_per_weight_gib"] * weights)
        if serving.startup_budget_seconds(weights) < estimate:
            found.append(f"{spec.id}: start-up budget below the simulation's load estimate of {estimate} s")
    return found


def test_the_programs_tables_agree_with_the_clouds_facts():
    assert disagreements() == []


def _replace_family(name: str, **changes):
    return {**gpus.GPU_FAMILIES, name: dataclasses.replace(gpus.GPU_FAMILIES[name], **changes)}


@pytest.mark.parametrize(
    ("module", "attribute", "wrong", "named"),
    [
        (gpus, "GPU_FAMILIES", lambda: _replace_family("gn7i", nvml_mib=24576), "gn7i cGPU schedulable GiB"),
        (gpus, "GPU_FAMILIES", lambda: _replace_family("gn6i", memory_gib=24), "gn6i GPU memory"),
        (gpus, "INSTANCE_TYPES", lambda: {**gpus.INSTANCE_TYPES, "gn7i": ("ecs.gn7i-c99g1.2xlarge",)}, "gn7i instance"),
        (
            catalog,
            "BUILTIN_MODELS",
            lambda: {
                **catalog.BUILTIN_MODELS,
                "mistral-7b": dataclasses.replace(catalog.BUILTIN_MODELS["mistral-7b"], kv_heads=4),
            },
            "mistral-7b kv_heads",
        ),
        (catalog, "DTYPE_BYTES", lambda: {**catalog.DTYPE_BYTES, "awq": 1.0}, "bytes per parameter of awq"),
        (
            fc,
            "FC_GPU_TYPES",
            lambda: {
                **fc.FC_GPU_TYPES,
                "fc.gpu.ampere.1": dataclasses.replace(fc.FC_GPU_TYPES["fc.gpu.ampere.1"], max_memory_mb=32768),
            },
            "FC fc.gpu.ampere.1 largest",
        ),
        (fc, "FC_GPU_REGIONS", lambda: (*fc.FC_GPU_REGIONS, "us-east-1"), "FC GPU regions"),
        (fc, "HEALTH_CHECK_TIMEOUT_SECONDS", lambda: 5, "health-check timeout 5"),
        (serving, "SERVING_CUDA", lambda: "13.0", "the serving image's CUDA"),
        (serving, "NVIDIA_DRIVER_VERSION", lambda: "580.1", "driver 580.1"),
        (serving, "GPU_SCHEDULE_LABEL", lambda: "ack.node.gpu.share", "cGPU schedule label"),
        (eas, "PROVISION_SECONDS", lambda: 5 * 60, "EAS provisioning budget"),
        (serving, "HTTP_ADDON_CHART", lambda: "keda-http", "keda-http is not"),
    ],
)
def test_a_wrong_program_table_is_named_by_its_disagreement_with_the_facts(
    monkeypatch, module, attribute, wrong, named
):
    monkeypatch.setattr(module, attribute, wrong())
    assert any(line.startswith(named) or named in line for line in disagreements()), disagreements()


def test_a_catalog_that_understates_a_model_fails_the_plan_instead_of_being_mirrored(synth, monkeypatch):
    """Before the cloud had its own facts it sized a model from the same catalog, so this plan passed."""
    small = {k: dataclasses.replace(s, params_b=0.5) for k, s in catalog.BUILTIN_MODELS.items()}
    monkeypatch.setattr(catalog, "BUILTIN_MODELS", small)
    result = synth("us-east")
    assert not result.ok
    assert "loading mistral-7b take about" in result.error


def test_every_fact_has_a_source_and_a_trust_note_and_is_used():
    document = json.loads((PROJECT_ROOT / "offline" / "cloud_facts.json").read_text(encoding="utf-8"))
    code = "".join((PROJECT_ROOT / "offline" / name).read_text() for name in ("real_cloud.py", "simulated_cloud.py"))
    for name, fact in document["facts"].items():
        assert set(fact) == {"value", "source", "trust"}, name
        assert fact["source"].strip() and fact["trust"].strip(), name
        assert f'"{name}"' in code, f"{name} is read by neither offline/real_cloud.py nor offline/simulated_cloud.py"
