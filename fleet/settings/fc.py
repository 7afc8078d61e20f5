"""Function Compute 3.0 GPU settings (the GPU type and how far each model's function scales out), and the
expected workload the cost view prices each platform at."""

from __future__ import annotations

from typing import Any

from fleet import capacity, fc, numbers, router_config, serving
from fleet.settings.problems import Problems, did_you_mean
from fleet.settings_types import FcSettings, Residency, ServedModel, Workload

# The workload's decimals: (lowest, highest, lowest excluded). A request holds a GPU at most as long as the
# router's longest timeout (600 s, fleet/router_config.TIMEOUT_LIMITS); an hour leaves room and no more.
DECIMAL_BOUNDS = {"averageSecondsPerRequest": (0.0, 3600.0, True), "costWarningMultiple": (1.0, 1000.0, False)}
MAX_REQUESTS_PER_JOB = 10_000  # a bound for the number: a job of questions, not a load test
MAX_YEARLY_BUDGET_USD = 10_000_000.0  # a bound for the number, far above any research fleet
FC_ACCOUNT_INSTANCE_QUOTA = 100  # FC's default per region and account (weights-fc-eas.md)


def parse_fc(
    values: dict[str, Any], region: str, platforms: tuple[str, ...], residency: Residency | None, p: Problems
) -> FcSettings | None:
    gpu_type = values.get("fcGpuType")
    if isinstance(gpu_type, str) and gpu_type not in fc.FC_GPU_TYPES:
        p.add(
            "fcGpuType",
            f"'{gpu_type}' is not an FC GPU type; {did_you_mean(gpu_type, fc.FC_GPU_TYPES)}"
            f"use one of {', '.join(fc.FC_GPU_TYPES)}",
        )
    high = values.get("fcMaxInstances")
    if isinstance(high, int) and not 1 <= high <= FC_ACCOUNT_INSTANCE_QUOTA:
        p.add("fcMaxInstances", f"must be 1 to {FC_ACCOUNT_INSTANCE_QUOTA} (FC's default quota per region), got {high}")
    if "fc" in platforms:
        where = platforms.index("fc")
        if region and region not in fc.FC_GPU_REGIONS:
            p.add(
                f"servingPlatforms[{where}]",
                f"Function Compute GPU functions are not offered in {region} as far as any source says (offered in"
                f" {', '.join(fc.FC_GPU_REGIONS)}; FC's region table is cut off after them); serve on eas or ack here",
            )
        if residency is not None and residency.mainland and not residency.icp_licence:
            p.add(
                f"servingPlatforms[{where}]",
                f"an FC function's HTTP trigger is a public endpoint, and a public endpoint in {region} needs an ICP"
                " licence; set icpLicence, or serve on eas or ack (VPC-only) here",
            )
    if not isinstance(gpu_type, str) or gpu_type not in fc.FC_GPU_TYPES or not isinstance(high, int):
        return None
    return FcSettings(gpu_type=gpu_type, max_instances=high)


def check_fc_fit(
    fc_settings: FcSettings | None, models: list[ServedModel], context: int, sequences: int, p: Problems
) -> None:
    """Each model's slice, as gpuMemorySize, is a size FC accepts on the configured GPU type."""
    if fc_settings is None:
        return
    for index, model in enumerate(models):
        estimate = capacity.estimate_memory(model.spec, model.dtype, context, sequences)
        problem = fc.memory_problem(fc_settings.gpu_type, fc.gpu_memory_mb(estimate.slice_gib))
        if problem:
            p.add(
                f"models[{index}]",
                f"{model.id} ({model.dtype}) on FC {problem}; try fcGpuType with more memory, {model.id}:fp8,"
                " or a smaller maxContextTokens or maxConcurrentSequences",
            )
        cold = fc.COLD_START_SECONDS[1] + serving.startup_budget_seconds(estimate.weights_gib)
        late = fc.cold_start_problem(
            model.id, cold, router_config.ALIBABA_TIMEOUT_SECONDS, router_config.TIMEOUT_LIMITS["alibaba_fc"]
        )
        if late:
            p.add(f"models[{index}]", late)
    total = fc_settings.max_instances * len(models)
    if total > FC_ACCOUNT_INSTANCE_QUOTA:
        p.add(
            "fcMaxInstances",
            f"{fc_settings.max_instances} per model x {len(models)} models = {total}, above FC's default quota of"
            f" {FC_ACCOUNT_INSTANCE_QUOTA} instances per region; lower it or raise the quota first",
        )


def parse_workload(values: dict[str, Any], p: Problems) -> Workload | None:
    requests = values.get("expectedRequestsPerMonth")
    if isinstance(requests, int) and requests < 0:
        p.add("expectedRequestsPerMonth", f"must be 0 or more, got {requests}")
    per_job = values.get("requestsPerJob")
    if isinstance(per_job, int) and not 1 <= per_job <= MAX_REQUESTS_PER_JOB:
        p.add("requestsPerJob", f"must be 1 to {MAX_REQUESTS_PER_JOB} (a job's requests to a model), got {per_job}")
    parsed = {}
    for key, (low, high, above) in DECIMAL_BOUNDS.items():
        text = values.get(key)
        value = numbers.parse_decimal(text, low, high, low_inclusive=not above)
        if value is None:
            shown = ascii(str(text))[1:-1][:40]  # as written, every control or non-ASCII character escaped
            bound = f"more than {low:g}" if above else f"at least {low:g}"
            p.add(key, f"'{shown}' is not a decimal number {bound} and at most {high:g}, written like \"2.0\"")
            continue
        parsed[key] = value
    budget_text, budget = values.get("yearlyBudgetUsd"), None
    if budget_text not in (None, ""):
        budget = numbers.parse_decimal(budget_text, 0.0, MAX_YEARLY_BUDGET_USD, low_inclusive=False)
        if budget is None:
            shown = ascii(str(budget_text))[1:-1][:40]
            p.add(
                "yearlyBudgetUsd",
                f"'{shown}' is not a decimal number more than 0 and at most {MAX_YEARLY_BUDGET_USD:g}, written like"
                ' "3000", or empty for no budget',
            )
    if not isinstance(requests, int) or len(parsed) != 2 or not isinstance(per_job, int):
        return None
    return Workload(requests, parsed["averageSecondsPerRequest"], parsed["costWarningMultiple"], budget, per_job)
