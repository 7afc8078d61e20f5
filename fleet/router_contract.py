"""The router contract: one JSON Schema per published version of the router config (schemas/), and what each
version holds (provider types, auth types, failover steps, the fields of a provider and of a region).

The hybrid router that reads beacon-fleet's config is Beacon's own service: a version tells its team what to
implement. A new provider kind, field or auth mode is a new schema file, never an edit of a published one:
schemas/contracts.json records what each published version holds, and tests/test_router_contract.py fails when a
schema no longer matches its record. docs/router-config.md's contract section is generated from both.

Pure data over the schema files; no imports from the rest of the fleet but its root.
"""

from __future__ import annotations

import json
from typing import Any

from fleet.config_schema import PROJECT_ROOT

SCHEMAS = PROJECT_ROOT / "schemas"
CONTRACTS_PATH = SCHEMAS / "contracts.json"
SCHEMA_PATHS = {
    int(path.stem.removeprefix("router-config.v")): path for path in sorted(SCHEMAS.glob("router-config.v*.json"))
}
SCHEMA_VERSION = max(SCHEMA_PATHS)  # the newest; a config is written at the oldest version that holds it


def schema(version: int) -> dict[str, Any]:
    return json.loads(SCHEMA_PATHS[version].read_text(encoding="utf-8"))


def contract(version: int) -> dict[str, list[str]]:
    """What a router that accepts this version must handle, read from its schema."""
    document = schema(version)
    provider = document["properties"]["providers"]["additionalProperties"]["properties"]
    region = document["properties"]["regions"]["additionalProperties"]["properties"]
    return {
        "provider_types": sorted(provider["type"]["enum"]),
        "auth_types": sorted(provider["auth"]["properties"]["type"]["enum"]),
        "failover_steps": sorted(region["failover_order"]["items"]["enum"]),
        "provider_fields": sorted(provider),
        "region_fields": sorted(region),
        "regions_without_alibaba": ["yes" if region["cloud_region"].get("minLength", 0) == 0 else "no"],
    }


def recorded() -> dict[str, dict[str, Any]]:
    """schemas/contracts.json: per published version, what it holds and what it adds to the one before."""
    return json.loads(CONTRACTS_PATH.read_text(encoding="utf-8"))
