"""The config source: what the Pulumi engine handed the program, read once per run.

Plain keys arrive as strings (set explicitly, or by the CLI in PULUMI_CONFIG); the CLI says which are secret.
Secret values are only ever read as secret Outputs, through `secret`.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
from pulumi.runtime import config as runtime_config

from fleet.config_schema import load_project_schema
from fleet.settings.region import parse_settings
from fleet.settings.router import parse_router_settings, stack_role
from fleet.settings_types import RegionSettings, RouterSettings


def current_config() -> dict[str, str]:
    """Every config key the program was given: explicitly set, or passed by the CLI in PULUMI_CONFIG."""
    merged = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    return merged


def current_secret_keys(raw: Mapping[str, str]) -> frozenset[str]:
    """Keys the CLI marked secret, whichever way it handed them over (set explicitly or by environment)."""
    from_env = set(runtime_config.get_config_secret_keys_env())
    return frozenset(k for k in raw if k in from_env or runtime_config.is_config_secret(k))


def secret(key: str) -> pulumi.Output[str]:
    """A secret key's value, only ever as a secret Output; settings have already checked it is set."""
    return pulumi.Config().require_secret(key)


def current_stack_role() -> str:
    return stack_role(load_project_schema(), pulumi.get_stack(), current_config())


def load_settings() -> RegionSettings:
    """The current region stack's settings; raises ConfigError listing every problem."""
    raw = current_config()
    return parse_settings(load_project_schema(), pulumi.get_stack(), raw, current_secret_keys(raw))


def load_router_settings() -> RouterSettings:
    """The current router stack's settings; raises ConfigError listing every problem."""
    raw = current_config()
    return parse_router_settings(load_project_schema(), pulumi.get_stack(), raw, current_secret_keys(raw))
