"""Stack config as the Pulumi CLI would hand it to the program: Pulumi.yaml defaults plus the stack file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from fleet.config_schema import PROJECT_ROOT, SAFE_LOADER, ProjectSchema, encode_config_value, load_project_schema


class StackFileError(Exception):
    """A stack that has no file, or a file that is not a Pulumi stack file."""


@dataclass(frozen=True)
class StackConfig:
    stack: str
    values: dict[str, str]  # fully qualified key -> wire string
    secret_keys: tuple[str, ...]
    placeholders: dict[str, str] = field(default_factory=dict)  # key -> why a placeholder stands there


def stack_file(stack: str, root: Path = PROJECT_ROOT) -> Path:
    return root / f"Pulumi.{stack}.yaml"


def shipped_stacks(root: Path = PROJECT_ROOT) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def load_stack_config(stack: str, path: Path | None = None, schema: ProjectSchema | None = None) -> StackConfig:
    """Merge Pulumi.yaml defaults with a stack file; secrets become visible placeholders, never values."""
    schema = schema or load_project_schema()
    path = path or stack_file(stack)
    if not path.is_file():
        known = ", ".join(shipped_stacks()) or "none"
        raise StackFileError(f"unknown stack '{stack}': no {path.name} (stacks: {known})")
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER) or {}
    except yaml.YAMLError as error:
        raise StackFileError(f"{path.name} is not valid YAML: {error}") from None
    entries = document.get("config") or {}
    if not isinstance(entries, dict):
        raise StackFileError(f"{path.name}: 'config' must be a mapping of keys to values")

    values = schema.defaults_as_config()
    secret_keys: list[str] = []
    placeholders: dict[str, str] = {}
    for key, value in entries.items():
        full_key = key if ":" in key else f"{schema.project}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            # Ciphertext needs the stack's secrets provider, which only the Pulumi CLI has.
            values[full_key] = f"[secret placeholder: encrypted in {path.name}, not decrypted offline]"
            placeholders[full_key] = "encrypted in the stack file; the offline plan cannot decrypt it"
            secret_keys.append(full_key)
        else:
            values[full_key] = encode_config_value(value)
    for spec in schema.keys.values():
        full_key = f"{schema.project}:{spec.name}"
        if spec.secret:
            secret_keys.append(full_key)
            if full_key not in values:
                values[full_key] = f"[secret placeholder: {full_key} is not set in {path.name}]"
                placeholders[full_key] = (
                    f"not set; run `pulumi config set --secret {spec.name}` if the stack needs it"
                    f" ({spec.description})"
                )
    return StackConfig(
        stack=stack, values=values, secret_keys=tuple(sorted(set(secret_keys))), placeholders=placeholders
    )
