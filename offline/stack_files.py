"""Stack config as the Pulumi CLI would hand it to the program: Pulumi.yaml defaults plus the stack file.

A stack file is checked before anything is planned, every problem at once, each with its line: YAML that does
not parse (file, line and column), a key set twice (YAML would keep the last silently), a key outside
`config:`, a namespace that is not the project's or a provider's, a value with a trailing newline or spaces,
and a credential in plain text (its value is never repeated, here or in any plan).
"""

from __future__ import annotations

import difflib
import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fleet import credentials
from fleet.config_schema import PROJECT_ROOT, ProjectSchema, encode_config_value, load_project_schema, unset_secret
from fleet.settings.problems import did_you_mean
from fleet.settings.secrets import needed_secret_keys
from offline.pulumi_yaml import PulumiYamlLoader, problems_of_values
from offline.stack_list import DEFAULT_FLEET, fleet_dir, stack_lists

# What a Pulumi stack file may hold besides config (the CLI's own keys).
STACK_FILE_KEYS = ("config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment")
# Namespaces of the providers this program uses; any other namespace is a typo or a key nothing reads.
_NULL_TAG = "tag:yaml.org,2002:null"
PROVIDER_NAMESPACES = ("alicloud", "kubernetes", "docker", "random", "runpod", "pulumi")


class StackFileError(Exception):
    """A stack that has no file, or a file that is not a Pulumi stack file."""


class InvalidStackFileError(StackFileError):
    """A stack file that exists but has problems; every one is listed, none repeats a value."""

    def __init__(self, path: Path, problems: list[str]):
        self.problems = problems
        noun = "problem" if len(problems) == 1 else "problems"
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path.name} has {len(problems)} {noun}; nothing was planned from it.\n{lines}")


@dataclass(frozen=True)
class StackConfig:
    stack: str
    values: dict[str, str]  # fully qualified key -> wire string
    secret_keys: tuple[str, ...]
    placeholders: dict[str, str] = field(default_factory=dict)  # key -> why a placeholder stands there
    # key -> fingerprint of an encrypted value's ciphertext, so a plan diff sees a re-set secret as a change
    secret_digests: dict[str, str] = field(default_factory=dict)


def stack_file(stack: str, root: Path = PROJECT_ROOT, fleet: str | None = None) -> Path:
    """A stack's file: Pulumi.<stack>.yaml at the project root (the default fleet) or in fleets/<fleet>/."""
    return fleet_dir(fleet, root) / f"Pulumi.{stack}.yaml"


def shipped_stacks(root: Path = PROJECT_ROOT, fleet: str | None = None) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in fleet_dir(fleet, root).glob("Pulumi.*.yaml"))


def region_stacks(root: Path = PROJECT_ROOT, fleet: str | None = None) -> list[str]:
    """The region stacks (every stack file whose stackRole is not router), from the files."""
    return stack_lists(root, fleet)["regions"]


def load_stack_config(
    stack: str, path: Path | None = None, schema: ProjectSchema | None = None, fleet: str | None = None
) -> StackConfig:
    """Merge Pulumi.yaml defaults with a stack file; secrets become visible placeholders, never values."""
    schema = schema or load_project_schema()
    path = path or stack_file(stack, fleet=fleet)
    if not path.is_file():
        where = f" in fleet {fleet}" if fleet not in (None, DEFAULT_FLEET) else ""
        known = ", ".join(shipped_stacks(fleet=fleet)) or "none"
        raise StackFileError(f"unknown stack '{stack}'{where}: no {path.name} (stacks: {known})")
    entries, lines, problems = _read(path)
    problems += _check_entries(path, entries, lines, schema)
    if problems:
        raise InvalidStackFileError(path, problems)

    values = schema.defaults_as_config()
    secret_keys: list[str] = []
    placeholders: dict[str, str] = {}
    digests: dict[str, str] = {}
    for key, value in entries.items():
        full_key = key if ":" in key else f"{schema.project}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            # Ciphertext needs the stack's secrets provider, which only the Pulumi CLI has.
            values[full_key] = f"[secret placeholder: encrypted in {path.name}, not decrypted offline]"
            placeholders[full_key] = "encrypted in the stack file; the offline plan cannot decrypt it"
            secret_keys.append(full_key)
            digests[full_key] = credentials.digest(value["secure"])
        else:
            values[full_key] = encode_config_value(value)
    needed = needed_secret_keys(schema.project, values)
    for spec in schema.keys.values():
        full_key = f"{schema.project}:{spec.name}"
        if spec.secret:
            secret_keys.append(full_key)
            if full_key not in values:
                values[full_key] = unset_secret(full_key, path.name)
                if spec.name in needed:  # the others are never read by this stack, so not worth a line
                    placeholders[full_key] = (
                        f"not set; run `pulumi config set --secret {spec.name}` before `pulumi up` ({spec.description})"
                    )
    return StackConfig(
        stack=stack,
        values=values,
        secret_keys=tuple(sorted(set(secret_keys))),
        placeholders=placeholders,
        secret_digests=digests,
    )


def _read(path: Path) -> tuple[dict[str, Any], dict[str, int], list[str]]:
    """The config entries, the line of each key, and the problems of the file's structure."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        return {}, {}, [f"{path.name}: not UTF-8 text (byte {error.start}); save it as UTF-8"]
    # As the Pulumi CLI reads it: YAML 1.2's core schema (yaml.v3), not PyYAML's YAML 1.1 (offline/pulumi_yaml.py).
    loader = PulumiYamlLoader(text)
    try:
        node = loader.get_single_node()
        problems, lines = _check_structure(path, node)
        # Constructed even with structural problems, so the entries' own problems are reported in the same pass.
        document = loader.construct_document(node) if isinstance(node, yaml.MappingNode) else {}
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        opened = error.context_mark
        if mark and opened and opened.line != mark.line:
            where += f" (in what starts at line {opened.line + 1}, column {opened.column + 1})"
        what = " ".join(str(part) for part in (error.context, error.problem) if part)
        fix = "fix the YAML there (indent with spaces, close brackets, quote a value holding ': ' or ' #')"
        return {}, {}, [f"{path.name} {where}: not valid YAML ({what}); {fix}"]
    except yaml.YAMLError as error:
        return {}, {}, [f"{path.name}: not valid YAML: {error}"]
    except RecursionError:  # values nested thousands deep: no config value is
        return {}, {}, [f"{path.name}: values are nested too deeply to read; write each value as a flat list"]
    finally:
        loader.dispose()
    entries = document.get("config") if isinstance(document, dict) else None
    entries = entries if isinstance(entries, dict) else {}
    for key, value in entries.items():
        where = f"{path.name} line {lines.get(str(key), '?')}: {key}"
        problems += [f"{where}: {problem}" for problem in problems_of_values(value)]
    return entries, lines, problems


def _check_structure(path: Path, node: yaml.Node | None) -> tuple[list[str], dict[str, int]]:
    """Duplicate keys, keys outside config:, and a config: that is not a mapping of string keys."""
    problems: list[str] = []
    lines: dict[str, int] = {}
    if node is None:
        return problems, lines  # an empty file: defaults only
    if not isinstance(node, yaml.MappingNode):
        return [f"{path.name} line {node.start_mark.line + 1}: a stack file is a mapping with a config: key"], lines
    seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        key, line = str(key_node.value), key_node.start_mark.line + 1
        if key in seen:
            problems.append(f"{path.name} line {line}: '{key}' appears twice (also line {seen[key]}); keep one")
            continue
        seen[key] = line
        if key not in STACK_FILE_KEYS:
            problems.append(
                f"{path.name} line {line}: '{key}' is outside config:, so Pulumi ignores it;"
                f" {did_you_mean(key, STACK_FILE_KEYS)}indent config keys under config:"
            )
        elif key == "config" and not isinstance(value_node, yaml.MappingNode) and value_node.tag != _NULL_TAG:
            problems.append(f"{path.name} line {line}: config: must be a mapping of keys to values")
        elif key == "config" and isinstance(value_node, yaml.MappingNode):
            for config_key, _ in value_node.value:
                name, config_line = config_key.value, config_key.start_mark.line + 1
                if not isinstance(config_key, yaml.ScalarNode) or config_key.tag != "tag:yaml.org,2002:str":
                    problems.append(f"{path.name} line {config_line}: a config key must be a name such as models")
                elif name in lines:
                    problems.append(
                        f"{path.name} line {config_line}: {name} is set twice (also line {lines[name]});"
                        " YAML would silently keep the last; keep one"
                    )
                else:
                    lines[name] = config_line
    repeated = _repeated_node(node, set())
    if repeated is not None:
        # An alias shares a node; expanded into config strings, nested aliases grow exponentially (a YAML bomb).
        line = repeated.start_mark.line + 1
        problems.append(f"{path.name} line {line}: uses a YAML alias (*name); write each value out in full")
    return problems, lines


def _repeated_node(node: yaml.Node, seen: set[int]) -> yaml.Node | None:
    """The first node reached twice, as a YAML alias makes it, or None."""
    if id(node) in seen:
        return node
    seen.add(id(node))
    children: list[yaml.Node] = []
    if isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    elif isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    for child in children:
        if (found := _repeated_node(child, seen)) is not None:
            return found
    return None


def _check_entries(path: Path, entries: dict[str, Any], lines: dict[str, int], schema: ProjectSchema) -> list[str]:
    """Namespaces, stray whitespace and plain-text credentials, key by key. Never repeats a value."""
    problems = []
    project = schema.project
    plain_keys = {f"{project}:{name}" for name, spec in schema.keys.items() if not spec.secret}
    known_namespaces = (project, *PROVIDER_NAMESPACES)
    seen: dict[str, str] = {}
    for key, value in entries.items():
        where = f"{path.name} line {lines.get(key, '?')}: {key}"
        full_key = key if ":" in key else f"{project}:{key}"
        if full_key in seen:  # models: and beacon-fleet:models: are one key
            problems.append(
                f"{where}: the same key as {seen[full_key]} (line {lines.get(seen[full_key], '?')}); keep one"
            )
            continue
        seen[full_key] = key
        namespace, _, name = full_key.partition(":")
        short = name if namespace == project else full_key
        if isinstance(value, dict) and set(value) == {"secure"}:
            if not isinstance(value["secure"], str):
                problems.append(f"{where}: secure: must hold the ciphertext `pulumi config set --secret` wrote")
            continue
        if namespace not in known_namespaces:
            close = difflib.get_close_matches(namespace, known_namespaces, n=1)
            guess = f"did you mean {close[0]}:{name}? " if close else ""
            problems.append(
                f"{where}: unknown namespace '{namespace}', so nothing would read this key; {guess}project keys are"
                f" {project}:<key>, provider keys {', '.join(p + ':' for p in PROVIDER_NAMESPACES)}"
            )
            continue
        shape = credentials.value_credential_shape(value)
        if credentials.key_is_credential(full_key, plain_keys) or (
            namespace == project and name in schema.keys and schema.keys[name].secret
        ):
            problems.append(
                f"{where}: a credential in plain text (its value is not shown); remove it from {path.name}, rotate"
                f" it (it is in the file's history), and set it encrypted with `pulumi config set --secret {short}`"
            )
            continue
        if shape is not None:
            problems.append(
                f"{where}: the value looks like {shape} in plain text (not shown); remove it from {path.name} and"
                f" rotate it; a credential is set encrypted, in the key that needs it, with"
                f" `pulumi config set --secret <key>`"
            )
            continue
        texts = value if isinstance(value, list) else [value]
        # Refused, never trimmed: the CLI passes the value on as written. Inside, a line break or another control
        # character is never part of a setting either.
        if any(isinstance(t, str) and (t != t.strip() or not t.isprintable()) for t in texts):
            problems.append(
                f"{where}: the value starts or ends with whitespace, or holds a line break or control character (a"
                " YAML `|` or `>` block keeps its line breaks); write it on one line, without surrounding spaces"
            )
    return problems


def declares_vpc(config: StackConfig, project: str) -> bool:
    """A region stack declares a VPC when it serves on Alibaba Cloud (servingPlatforms not empty)."""
    try:
        platforms = json.loads(config.values.get(f"{project}:servingPlatforms", "[]"))
    except ValueError:
        return True  # the stack's own settings report it; its range is still worth checking
    return platforms != []


def cross_stack_problems(
    configs: list[StackConfig], schema: ProjectSchema | None = None
) -> list[tuple[frozenset[str], str]]:
    """What no single stack can see: region stacks whose VPC ranges overlap, and region stacks a router does not
    read; each with the stacks it involves."""
    schema = schema or load_project_schema()
    project = schema.project
    routers = [c for c in configs if c.values.get(f"{project}:stackRole") == "router"]
    regions = [c for c in configs if c.values.get(f"{project}:stackRole", "region") != "router"]
    problems = []
    vpcs: list[tuple[str, ipaddress.IPv4Network]] = []
    for config in regions:
        if not declares_vpc(config, project):
            continue  # served by its counterpart or a partner alone: vpcCidr is only the unused default
        try:
            vpcs.append((config.stack, ipaddress.IPv4Network(config.values.get(f"{project}:vpcCidr", ""))))
        except ValueError:
            continue  # the stack's own settings report it
    for index, (stack, vpc) in enumerate(vpcs):
        for other, other_vpc in vpcs[:index]:
            if vpc.overlaps(other_vpc):
                problems.append(
                    (
                        frozenset({stack, other}),
                        f"Pulumi.{stack}.yaml: {project}:vpcCidr {vpc} overlaps {other_vpc} of stack {other};"
                        f" give each region its own range (e.g. the next free 10.N.0.0/16) so the VPCs can be peered",
                    )
                )
    for router in routers:
        try:
            listed = json.loads(router.values.get(f"{project}:regionStacks", "[]"))
        except ValueError:
            continue  # the router's own settings report it
        names = {str(n).rsplit("/", 1)[-1] for n in listed if isinstance(n, str)} if isinstance(listed, list) else set()
        for config in regions:
            if config.stack not in names:
                problems.append(
                    (
                        frozenset({router.stack, config.stack}),
                        f"Pulumi.{router.stack}.yaml: {project}:regionStacks does not list region stack {config.stack},"
                        f" so the router would never route to it; add organization/{project}/{config.stack}"
                        " (your organization on Pulumi Cloud)",
                    )
                )
    return problems
