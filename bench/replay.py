"""The replay floor: a plain Pulumi program that declares exactly what a stack's program declared, with every value
already known, so its cost under the same engine is the SDK's own cost for the same resources.

From one synthesis of the stack (offline.engine, which keeps what crossed the resource monitor's wire) and what
the SDK was handed on the Python side (recorded here: the property names each resource class gave the SDK, and the
stack outputs read through StackReference), `write_program` writes a program that, in the order the program's
registrations reached the monitor,

  - registers each custom resource through the SDK's generic `pulumi.CustomResource(type, name, props, opts)`,
    each provider through `pulumi.ProviderResource`, each component through `pulumi.ComponentResource` (each by
    way of a one-line subclass: see CLASSES), with the same type, name and parent, the same inputs as plain
    values (a secret as `pulumi.Output.secret` where it crossed the wire secret), a dynamic resource's pickled
    provider as its `__provider` input, and every other property the program's resource class declared set to
    `None` (a generated class passes each of its properties, and the SDK makes and resolves an output for each:
    for a bare VPC most of its cost);
  - passes the same options: `depends_on` every resource the registration waited for, protect, retainOnDelete,
    provider, version, pluginDownloadURL, additionalSecretOutputs, customTimeouts, aliases; an option it cannot
    replay stops the bench rather than being dropped;
  - reads each StackReference as `pulumi.StackReference(name, stack_name)` and calls `get_output` once for each
    output the program read of it (as the program does);
  - registers each component's outputs and exports the stack's outputs, as plain values.

`check_replay` compares the replay's synthesis with the program's (URN, type, parent, inputs, secrets,
dependencies, options, outputs): the bench refuses a floor that does not declare the same thing.

What the floor leaves out, and so counts against the program: everything the program computes (reading and
validating config, planning, the Outputs and applies that carry values from one resource to another, so the
wire carries no property dependencies; JSON Schema checks; the router's merge), its invokes (cloud look-ups),
its log messages, the pickling of a dynamic provider (the floor passes the pickle the program made), the
generated SDK classes' own Python (keyword arguments, input types, name translation through type metadata), and
the depth of the program's call stack, which the SDK walks at every registration. Each of these makes the floor
cheaper, never dearer, than a program declaring the same resources through the provider SDKs' classes.
"""

from __future__ import annotations

import itertools
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi.resource
from pulumi import _types

from fleet.config_schema import PROJECT_ROOT
from offline.engine import STACK_TYPE, UNKNOWN_SHOWN, DeclaredResource, Secret, Synthesis, synthesize
from offline.simulated_cloud import StackOutputs
from offline.stack_files import StackConfig

STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"
PROVIDER_PREFIX = "pulumi:providers:"
_modules = itertools.count()


class ReplayError(RuntimeError):
    """The recording holds something the replay cannot declare the same way; the floor would not be honest."""


@dataclass(frozen=True)
class Recording:
    """One synthesis of a stack, and what the program handed the SDK on the Python side."""

    config: StackConfig
    synthesis: Synthesis
    properties: dict[str, tuple[str, ...]]  # by URN: every property the resource's class gave the SDK (wire names)
    reads: dict[str, tuple[str, ...]]  # by StackReference name: the outputs read through it, in first-read order
    stacks: Mapping[str, StackOutputs] | None = None


def record(
    config: StackConfig, stacks: Mapping[str, StackOutputs] | None = None, program_dir: str = str(PROJECT_ROOT)
) -> Recording:
    """Synthesize the stack once, noting what the replay needs beyond the engine's own record."""
    properties: dict[str, tuple[str, ...]] = {}
    reads: dict[str, list[str]] = {}
    with _noting_properties(properties), _noting_reads(reads):
        synthesis = synthesize(config.stack, config.values, config.secret_keys, program_dir, stacks)
    if not synthesis.ok:
        raise ReplayError(f"{config.stack} does not synthesize: {synthesis.error}")
    return Recording(config, synthesis, properties, {k: tuple(v) for k, v in reads.items()}, stacks)


@contextmanager
def _noting_properties(found: dict[str, tuple[str, ...]]) -> Iterator[None]:
    """Every property the resource's class gave the SDK, by wire name: a generated class passes each of its
    properties, None for the ones only the cloud fills in, and the SDK makes an output of each."""
    register = pulumi.resource.register_resource

    def noting(res, t, name, custom, remote, new_dependency, props, opts, typ, *rest, **kw):
        names = {**_types.resource_py_to_pulumi_names(type(res))}
        if typ is not None:
            names.update(_types.input_type_py_to_pulumi_names(typ))
        wire = tuple(names.get(k) or res.translate_input_property(k) for k in props)
        register(res, t, name, custom, remote, new_dependency, props, opts, typ, *rest, **kw)
        res.urn.apply(lambda urn: found.__setitem__(urn, wire))

    pulumi.resource.register_resource = noting
    try:
        yield
    finally:
        pulumi.resource.register_resource = register


@contextmanager
def _noting_reads(found: dict[str, list[str]]) -> Iterator[None]:
    """The outputs the program reads through each StackReference (get_output and require_output)."""
    saved = {m: getattr(pulumi.StackReference, m) for m in ("get_output", "require_output")}

    def noting(method: str):
        def read(self: pulumi.StackReference, name: Any) -> pulumi.Output:
            if not isinstance(name, str):
                raise ReplayError(f"StackReference {self._name}: {method} of a computed name cannot be replayed")
            names = found.setdefault(self._name, [])
            if name not in names:
                names.append(name)
            return saved[method](self, name)

        return read

    for method in saved:
        setattr(pulumi.StackReference, method, noting(method))
    try:
        yield
    finally:
        for method, original in saved.items():
            setattr(pulumi.StackReference, method, original)


def write_program(recording: Recording, reads: bool = True) -> Path:
    """A folder holding the replay program: `__main__.py` calls `main()` of a generated module, which Python
    imports once and reuses across runs, as it does the project's own modules. Without `reads`, the program
    leaves out the StackReference.get_output calls (to show what share of the floor they are)."""
    folder = Path(tempfile.mkdtemp(prefix=f"beacon-replay-{recording.config.stack}-"))
    module = f"beacon_replay_{re.sub(r'[^0-9A-Za-z_]', '_', recording.config.stack)}_{next(_modules)}"
    (folder / f"{module}.py").write_text(program_source(recording, reads), encoding="utf-8")
    (folder / "__main__.py").write_text(f"import {module}\n\n{module}.main()\n", encoding="utf-8")
    return folder


def program_source(recording: Recording, reads: bool = True) -> str:
    synthesis = recording.synthesis
    variables: dict[str, str] = {}
    body: list[str] = []
    for index, resource in enumerate(synthesis.resources):
        variable = f"r{index}"
        variables[resource.urn] = variable
        body.extend(_declaration(variable, resource, recording, variables, reads))
    for urn, outputs in synthesis.resource_outputs.items():
        if urn not in variables:
            raise ReplayError(f"{urn} registers outputs but was not declared")
        body.append(f"{variables[urn]}.register_outputs({_expression(outputs)})")
    body.extend(f"pulumi.export({key!r}, {_expression(value)})" for key, value in synthesis.outputs.items())
    lines = [
        f'"""Replay floor of stack {recording.config.stack}: generated by bench/replay.py, see its docstring."""',
        "",
        "import pulumi",
        "from pulumi import Output, ResourceOptions",
        "",
        CLASSES,
        "",
        "def main() -> None:",
        *(f"    {line}" for line in body or ["pass"]),
    ]
    return "\n".join(lines) + "\n"


# The SDK records the Python call stack of every registration made through a resource class, finding where
# user code starts by counting `__init__` frames; instantiated directly, pulumi.CustomResource has one `__init__`
# too few, and the SDK skips the capture. Every class the program uses (generated, dynamic, component) pays for
# it, so the floor declares through one-line subclasses that pay for it too, from its own shallower stack.
CLASSES = """
class Custom(pulumi.CustomResource):
    def __init__(self, t, name, props, opts):
        super().__init__(t, name, props, opts)


class Provider(pulumi.ProviderResource):
    def __init__(self, package, name, props, opts):
        super().__init__(package, name, props, opts)


class Component(pulumi.ComponentResource):
    def __init__(self, t, name, props, opts):
        super().__init__(t, name, props, opts)

"""


def _declaration(
    variable: str, resource: DeclaredResource, recording: Recording, variables: dict[str, str], reads: bool
) -> list[str]:
    options = _options(resource, variables)
    if resource.read:
        if resource.type != STACK_REFERENCE_TYPE:
            raise ReplayError(f"{resource.urn}: only StackReferences are read; {resource.type} cannot be replayed")
        lines = [f"{variable} = pulumi.StackReference({resource.name!r}, {resource.inputs['name']!r}, {options})"]
        lines += [f"{variable}.get_output({key!r})" for key in recording.reads.get(resource.name, ()) if reads]
        return lines
    props = {**resource.inputs, **resource.machinery}
    declared = recording.properties.get(resource.urn)
    if declared is None:
        raise ReplayError(f"{resource.urn}: no record of the properties its class declared")
    unknown = sorted(set(props) - set(declared))
    if unknown:
        raise ReplayError(f"{resource.urn}: inputs {unknown} are not among the properties its class declared")
    props.update({name: None for name in declared if name not in props})
    if resource.type.startswith(PROVIDER_PREFIX):
        package = resource.type.removeprefix(PROVIDER_PREFIX)
        call = f"Provider({package!r}, {resource.name!r}, {_expression(props)}, {options})"
    elif resource.custom:
        call = f"Custom({resource.type!r}, {resource.name!r}, {_expression(props)}, {options})"
    else:
        call = f"Component({resource.type!r}, {resource.name!r}, {_expression(props)}, {options})"
    return [f"{variable} = {call}"]


def _options(resource: DeclaredResource, variables: dict[str, str]) -> str:
    def ref(urn: str) -> str:
        if urn not in variables:
            raise ReplayError(f"{resource.urn} refers to {urn}, which was not declared before it")
        return variables[urn]

    parts = []
    stack_root = resource.parent_urn.split("::")[2:3] == [STACK_TYPE]  # the SDK's default parent
    if resource.parent_urn and not stack_root:
        parts.append(f"parent={ref(resource.parent_urn)}")
    if resource.dependencies:
        parts.append(f"depends_on=[{', '.join(ref(urn) for urn in resource.dependencies)}]")
    if resource.protect:
        parts.append("protect=True")
    if resource.retain_on_delete:
        parts.append("retain_on_delete=True")
    for name, value in resource.options.items():
        if name == "provider":
            parts.append(f"provider={ref(value.rsplit('::', 1)[0])}")
        elif name == "version":
            parts.append(f"version={value!r}")
        elif name == "pluginDownloadURL":
            parts.append(f"plugin_download_url={value!r}")
        elif name == "additionalSecretOutputs":
            parts.append(f"additional_secret_outputs={list(value)!r}")
        elif name == "customTimeouts":
            timeouts = ", ".join(f"{k}={v!r}" for k, v in value.items())
            parts.append(f"custom_timeouts=pulumi.CustomTimeouts({timeouts})")
        elif name == "aliases":
            parts.append(f"aliases=[{', '.join(_alias(resource, alias) for alias in value)}]")
        else:
            raise ReplayError(f"{resource.urn}: option {name}={value!r} has no replay")
    return f"ResourceOptions({', '.join(parts)})"


def _alias(resource: DeclaredResource, alias: Mapping[str, Any]) -> str:
    spec = dict(alias.get("spec") or {})
    if set(alias) != {"spec"} or not set(spec) <= {"type", "name", "parentUrn"} or spec.get("parentUrn"):
        raise ReplayError(f"{resource.urn}: alias {alias!r} has no replay")
    fields = [f"{field}={spec[key]!r}" for key, field in (("type", "type_"), ("name", "name")) if spec.get(key)]
    return f"pulumi.Alias({', '.join(fields)})"


def _expression(value: Any) -> str:
    """Python source for a recorded value: plain data as literals, a secret as Output.secret of its value."""
    if isinstance(value, Secret):
        return f"Output.secret({_expression(value.value)})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_expression(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_expression(v) for v in value) + "]"
    if value == UNKNOWN_SHOWN:
        raise ReplayError("a value known only after deployment cannot be replayed as a plain value")
    if value is None or isinstance(value, (str, int, float, bool)):
        return repr(value)
    raise ReplayError(f"{type(value).__name__} values cannot be replayed")


def replay(recording: Recording, program: Path) -> Synthesis:
    """The replay program's synthesis: same stack, config, simulated cloud and StackReference outputs."""
    config = recording.config
    return synthesize(
        config.stack, config.values, config.secret_keys, program_dir=str(program), stacks=recording.stacks
    )


def check_replay(recording: Recording, replayed: Synthesis) -> list[str]:
    """How the replay's declarations differ from the program's; empty when the floor declares the same thing."""
    if not replayed.ok:
        return [f"the replay failed: {replayed.error}"]

    def declared(synthesis: Synthesis) -> dict[str, tuple]:
        return {
            r.urn: (
                r.type,
                r.name,
                r.parent_urn,
                r.custom,
                r.read,
                r.protect,
                r.retain_on_delete,
                r.inputs,
                r.machinery,
                sorted(r.dependencies),
                r.options,
            )
            for r in synthesis.resources
        }

    ours, theirs = declared(recording.synthesis), declared(replayed)
    problems = [
        f"{urn}: {'missing' if urn not in theirs else 'differs'}" for urn in ours if ours[urn] != theirs.get(urn)
    ]
    problems += [f"{urn}: not declared by the program" for urn in theirs if urn not in ours]
    if replayed.outputs != recording.synthesis.outputs:
        problems.append("stack outputs differ")
    if replayed.resource_outputs != recording.synthesis.resource_outputs:
        problems.append("component outputs differ")
    return problems
