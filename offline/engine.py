"""Run the project's program under the Pulumi SDK's mock engine and record what it declares.

The program runs as the language host runs it: a fresh root Stack, `__main__.py` executed as `__main__`
through `run_in_stack`, and every outstanding RPC and Output awaited before the result is read. What is
recorded is what crossed the resource monitor's wire (parents, `protect`, inputs with secrets still marked),
not what the program meant to send.
"""

from __future__ import annotations

import gc
import logging
import os
import pickle
import re
import runpy
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import pulumi
from pulumi.runtime import mocks, rpc
from pulumi.runtime import resource as resource_runtime
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime import stack as runtime_stack
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.sync_await import _sync_await

from fleet.config_schema import PROJECT_ROOT, load_project_schema
from offline.real_cloud import CloudRefusal, RealCloud, Registration
from offline.simulated_cloud import SimulatedCloud, StackOutputs
from policy import provider_rules

STACK_TYPE = "pulumi:pulumi:Stack"
SECRET_SIG = rpc._special_sig_key  # noqa: SLF001 - the wire marker of a secret value
SECRET_VALUE_SIG = rpc._special_secret_sig  # noqa: SLF001
UNKNOWN = rpc.UNKNOWN
MASK = "[secret]"
UNKNOWN_SHOWN = "[unknown]"  # a value known only after deployment, as the plan shows it


@dataclass(frozen=True)
class Secret:
    """A value that crossed the wire marked secret; rendered as [secret] everywhere."""

    value: Any


@dataclass(frozen=True)
class DeclaredResource:
    urn: str
    type: str
    name: str
    parent_urn: str
    custom: bool
    protect: bool
    inputs: dict[str, Any]
    read: bool = False  # read from elsewhere (a StackReference), not managed by this stack
    retain_on_delete: bool = False
    # The URNs the registration waited for: its depends_on, and the resources its inputs came from.
    dependencies: tuple[str, ...] = ()
    # Every other resource option that crossed the wire, by its wire name and as plain data (provider, version,
    # additionalSecretOutputs, customTimeouts, aliases, ...); the SDK's own bookkeeping is left out.
    options: dict[str, Any] = field(default_factory=dict)
    # Wire inputs kept out of `inputs` because they are machinery, not settings: a dynamic resource's pickled
    # provider (`__provider`).
    machinery: dict[str, Any] = field(default_factory=dict)


@dataclass
class Synthesis:
    """Everything one run of the program declared, or the error that stopped it."""

    stack: str
    resources: list[DeclaredResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    invokes: list[str] = field(default_factory=list)
    # What each component registered as its outputs (RegisterResourceOutputs), by URN, secrets still marked.
    resource_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    # The region each default provider runs in, by package ("alicloud" -> alicloud:region), as the policy
    # analyzer sees it on each resource's provider.
    provider_regions: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    def of_type(self, typ: str) -> list[DeclaredResource]:
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str) -> DeclaredResource:
        found = self.of_type(typ)
        assert len(found) == 1, f"expected one {typ}, found {len(found)}"
        return found[0]

    def by_urn(self) -> dict[str, DeclaredResource]:
        return {r.urn: r for r in self.resources}


class RecordingMonitor(mocks.MockMonitor):
    """The SDK's mock monitor, also keeping what each registration carried on the wire."""

    def __init__(self, cloud: SimulatedCloud, real: RealCloud):
        super().__init__(cloud)
        self.real = real
        self.refusal: CloudRefusal | None = None
        self.declared: list[DeclaredResource] = []
        self.stack_outputs: dict[str, Any] = {}
        self.resource_outputs: dict[str, dict[str, Any]] = {}

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        if request.type == STACK_TYPE:
            return super().RegisterResource(request)
        wire = _plain(rpc.deserialize_properties(request.object, keep_unknowns=True))
        inputs = _without_provider_blob(wire)
        registration = Registration(
            urn="",
            type=request.type,
            name=request.name,
            inputs=_revealed(inputs),
            dependencies=tuple(request.dependencies),
            parent=request.parent,
            create_timeout=request.customTimeouts.create if request.HasField("customTimeouts") else "",
        )
        try:
            _admit_by_provider_rules(registration, masked(inputs))  # what the bridged provider's schema refuses
            self.real.admit(registration)  # raises CloudRefusal where the real cloud would fail
        except CloudRefusal as refusal:
            # The SDK may wrap it in its own errors on the way up; the first refusal is what the plan reports.
            self.refusal = self.refusal or refusal
            raise
        response = super().RegisterResource(request)
        self.real.record(replace(registration, urn=response.urn), response.id)
        self.declared.append(
            DeclaredResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent_urn=request.parent,
                custom=bool(request.custom),
                protect=bool(request.protect),
                retain_on_delete=bool(getattr(request, "retainOnDelete", False)),
                inputs=inputs,
                dependencies=tuple(request.dependencies),
                options=_options(request),
                machinery={k: v for k, v in wire.items() if k not in inputs},
            )
        )
        return response

    def ReadResource(self, request):  # noqa: N802 - gRPC method name
        response = super().ReadResource(request)
        self.declared.append(
            DeclaredResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent_urn=request.parent,
                custom=True,
                protect=False,
                inputs={"name": request.id},
                read=True,
            )
        )
        return response

    def RegisterResourceOutputs(self, request):  # noqa: N802 - gRPC method name
        outputs = _plain(rpc.deserialize_properties(request.outputs, keep_unknowns=True))
        if "::" + STACK_TYPE + "::" in request.urn:
            self.stack_outputs = outputs
        else:
            self.resource_outputs[request.urn] = outputs
        return super().RegisterResourceOutputs(request)


class ProviderRuleRefusal(CloudRefusal):
    """Inputs the bridged provider's schema refuses, as a real `pulumi preview` would before creating anything."""


def _admit_by_provider_rules(registration: Registration, shown: Mapping[str, Any] | None = None) -> None:
    """Every rule of policy/alicloud_rules.json the registration's inputs break, in one error. `shown` is the
    inputs with secrets masked: a value that was secret is named, never shown."""
    if not registration.type.startswith("alicloud:"):
        return
    broken = [
        replace(v, value=MASK) if _masked_at(shown, v.field) else v
        for v in provider_rules.violations(registration.type, registration.inputs)
    ]
    if broken:
        kind = registration.type.rsplit(":", 1)[-1]
        raise ProviderRuleRefusal(
            f"the provider would refuse {kind} '{registration.name}' at preview: " + "; ".join(str(v) for v in broken)
        )


def _masked_at(shown: Mapping[str, Any] | None, path: str) -> bool:
    """Whether the value at a violation's path (`a.b[0].c`), or one holding it, is a masked secret."""
    value: Any = shown
    for part in re.findall(r"[^.\[\]]+", path):
        if value == MASK:
            return True
        if isinstance(value, list) and part.isdigit():
            value = value[int(part)] if int(part) < len(value) else None
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return False
    return value == MASK


class _DropUnretrievedRunErrors(logging.Filter):
    """A readable error (a config or router error, a cloud refusal) raised in several Outputs at once leaves
    futures asyncio reports as never retrieved; the synthesis already reports the error once, so the rest
    would only be tracebacks on stderr. Bugs (any other exception) are still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, pulumi.RunError)


logging.getLogger("asyncio").addFilter(_DropUnretrievedRunErrors())


class _WarningCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def synthesize(
    stack: str,
    config: Mapping[str, str],
    secret_keys: tuple[str, ...] | list[str] = (),
    program_dir: str = str(PROJECT_ROOT),
    stacks: Mapping[str, StackOutputs] | None = None,
) -> Synthesis:
    """Run the program for one stack with the given config; never raises for the program's own errors.

    `stacks` are other stacks' outputs, by stack name, for the StackReferences the program makes.
    """
    project = load_project_schema().project
    cloud = SimulatedCloud(region=str(config.get("alicloud:region", "")), stacks=stacks)
    monitor = RecordingMonitor(cloud, RealCloud(region=cloud.region))
    collector = _WarningCollector()
    logger = logging.getLogger(f"beacon-fleet.offline.{stack}")
    logger.propagate = False
    logger.handlers = [collector]
    result = Synthesis(stack=stack, provider_regions={"alicloud": cloud.region} if cloud.region else {})

    with _isolated_runtime(config, secret_keys), _without_cyclic_gc(), _pickle_as_found(), _without_stack_traces():
        mocks.set_mocks(cloud, project=project, stack=stack, preview=False, monitor=monitor, logger=logger)
        runtime_settings.ROOT.set(None)  # a fresh root Stack, as the language host starts with
        # __main__.py runs afresh; the modules it imports are reused across runs, which is safe because
        # importing them declares nothing (tests/test_region_stacks.py pins that) and it halves the cost.
        try:
            _sync_await(runtime_stack.run_in_stack(lambda: runpy.run_path(program_dir, run_name="__main__")))
            monitor.real.finish()
        except pulumi.RunError as error:  # the program's own, readable errors (and the cloud's refusals)
            result.error = str(error)
        except Exception:  # noqa: BLE001 - a bug, shown in full
            result.error = traceback.format_exc()
        if monitor.refusal is not None:
            result.error = str(monitor.refusal)

    result.resources = list(monitor.declared)
    result.outputs = monitor.stack_outputs if result.ok else {}
    result.resource_outputs = monitor.resource_outputs
    result.warnings = collector.messages
    result.invokes = cloud.invoked
    return result


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """One synthesis allocates many short-lived cyclic objects (asyncio tasks, Outputs, futures). The cyclic
    collector's passes over every live object made a 10-model region cost half as much again per resource as a
    3-model one (bench/plan_cost.py); reference counting frees most of it anyway, and the collector resumes
    once the synthesis is over."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def _without_stack_traces() -> Iterator[None]:
    """The SDK sends the resource monitor, with every registration and read, where in the program it was made: it
    walks the whole Python call stack (traceback.extract_stack) and turns each frame into a file URI. That cost an
    eighth of each synthesis, and this monitor never reads it (sourcePosition and stackTrace are machinery,
    _NOT_OPTIONS, in no plan), so while the program runs the SDK gets an empty trace, as for a call made outside
    a resource's constructor, and no source position; its own function is put back afterwards."""
    saved = resource_runtime._get_stack_trace  # noqa: SLF001
    resource_runtime._get_stack_trace = source_pb2.StackTrace  # noqa: SLF001 - an empty StackTrace message
    try:
        yield
    finally:
        resource_runtime._get_stack_trace = saved  # noqa: SLF001


@contextmanager
def _pickle_as_found() -> Iterator[None]:
    """Leave Python's pickler as the synthesis found it.

    To make dill's bytes deterministic, the SDK's pulumi.dynamic.serialize_provider replaces
    pickle._Pickler._batch_setitems with a wrapper that sorts the items and then calls the method it found, and
    never puts it back: every dynamic resource a process declares adds one wrapper around the last (save_dict is
    replaced too). The language host runs one program per process, so there the chain is as long as the program
    has dynamic resources. This engine runs many programs in one process (`make plan`, the bench, the tests):
    the chain grew with every synthesis, each dict pickled went down all of it (each level of nesting costing
    one frame per wrapper), and after about a thousand dynamic resources dill hit a RecursionError serializing
    the next provider (the bench's 4 regions x 6 models router run, serializing the Railway provider;
    pulumi/pulumi#17803 reports the same symptom). Sorting
    once or a thousand times gives the same bytes. tests/test_dynamic_provider_pickling.py pins it."""
    saved_class = pickle.Pickler
    saved = {name: pickle._Pickler.__dict__[name] for name in ("_batch_setitems", "save_dict")}  # noqa: SLF001
    try:
        yield
    finally:
        pickle.Pickler = saved_class
        for name, method in saved.items():
            setattr(pickle._Pickler, name, method)  # noqa: SLF001


@contextmanager
def _isolated_runtime(config: Mapping[str, str], secret_keys: tuple[str, ...] | list[str]) -> Iterator[None]:
    """Fresh config and settings for one run; a PULUMI_CONFIG in the environment must not leak in."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("PULUMI_CONFIG")}
    runtime_settings.SETTINGS.rpc_manager.clear()
    runtime_settings.SETTINGS.outputs.clear()
    pulumi.runtime.set_all_config(dict(config), list(secret_keys))
    try:
        yield
    finally:
        os.environ.update(saved)


def as_stack_outputs(synthesis: Synthesis) -> StackOutputs:
    """A synthesis's outputs as another stack's StackReference reads them: values in the clear, and the
    names of the outputs holding a secret anywhere, which the reading stack's SDK marks secret again."""
    return StackOutputs(
        values={k: _revealed(v) for k, v in synthesis.outputs.items()},
        secret_names=tuple(sorted(k for k, v in synthesis.outputs.items() if _holds_secret(v))),
    )


def _revealed(value: Any) -> Any:
    return _replacing_secrets(value, lambda secret: _revealed(secret.value))


def _holds_secret(value: Any) -> bool:
    return masked(value) != value


def _plain(value: Any) -> Any:
    """Wire values as plain data: secrets wrapped in Secret, whole floats back to ints (protobuf numbers)."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE_SIG:
            return Secret(_plain(value.get("value")))
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == UNKNOWN:
        return UNKNOWN_SHOWN
    return value


# RegisterResourceRequest fields that are not resource options: what DeclaredResource holds in fields of its own,
# which inputs came from which resource (propertyDependencies; their union is in `dependencies`), and what the SDK
# sets on every request for its own bookkeeping (capabilities, where the call came from).
_NOT_OPTIONS = frozenset(
    {
        "type", "name", "object", "parent", "custom", "protect", "retainOnDelete", "dependencies",
        "propertyDependencies", "acceptSecrets", "acceptResources", "supportsPartialValues",
        "supportsResultReporting", "sourcePosition", "stackTrace",
    }
)  # fmt: skip


def _options(request: Any) -> dict[str, Any]:
    """The registration's other options as plain data, by wire name; only those set (the SDK sends an empty
    `hooks` message on every request: empty is not set)."""
    found = {d.name: _field(d, v) for d, v in request.ListFields() if d.name not in _NOT_OPTIONS}
    return {name: value for name, value in found.items() if value not in ({}, [])}


def _field(descriptor: Any, value: Any) -> Any:
    """One protobuf field as plain data; a message as its set fields (ListFields leaves out defaults)."""
    if descriptor.message_type is None:
        return list(value) if descriptor.label == descriptor.LABEL_REPEATED else value
    if descriptor.message_type.GetOptions().map_entry:
        entry = descriptor.message_type.fields_by_name["value"]
        return {k: _field(entry, v) for k, v in value.items()}
    if descriptor.label == descriptor.LABEL_REPEATED:
        return [{d.name: _field(d, v) for d, v in item.ListFields()} for item in value]
    return {d.name: _field(d, v) for d, v in value.ListFields()}


def _without_provider_blob(inputs: dict[str, Any]) -> dict[str, Any]:
    """A dynamic resource carries its provider pickled in `__provider`: machinery, not a setting."""
    return {k: v for k, v in inputs.items() if k != "__provider"}


def masked(value: Any) -> Any:
    """The value with every secret replaced by [secret]: what a plan, a log or a diff may show."""
    return _replacing_secrets(value, lambda _secret: MASK)


def _replacing_secrets(value: Any, replace: Callable[[Secret], Any]) -> Any:
    if isinstance(value, Secret):
        return replace(value)
    if isinstance(value, dict):
        return {k: _replacing_secrets(v, replace) for k, v in value.items()}
    if isinstance(value, list):
        return [_replacing_secrets(v, replace) for v in value]
    return value


def is_secret(value: Any) -> bool:
    return isinstance(value, Secret)
