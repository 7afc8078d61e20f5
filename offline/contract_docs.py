"""Regenerate the router contract section of docs/router-config.md from the schemas and fleet/kinds.py.

    python -m offline.contract_docs           # rewrite the section between its markers
    python -m offline.contract_docs --check   # exit 1, saying so, when the committed section is stale

Per published version: what it adds to the one before, and what a router that accepts it must handle (provider
types with their auth and health check, auth types, failover steps, fields). The team running the hybrid router
reads it to know what to implement before a fleet that needs the version is deployed.
"""

from __future__ import annotations

import sys

from fleet import kinds, router_contract
from fleet.config_schema import PROJECT_ROOT
from offline import generated_docs

OUTPUT = PROJECT_ROOT / "docs" / "router-config.md"
MARKER = "contract"
AUTH = {
    "bearer": "`Authorization: Bearer <value of env>`",
    "eas_token": "`Authorization: <value of env>` (the PAI-EAS service token, no scheme)",
    "modal_proxy": "`Modal-Key: <value of key_env>` and `Modal-Secret: <value of secret_env>`",
}


def _list(items: list[str]) -> str:
    return ", ".join(f"`{item}`" for item in items) or "nothing"


def section() -> list[str]:
    lines = []
    previous: dict[str, list[str]] = {}
    by_type = {k.router_type: k for k in kinds.KINDS}
    for version, record in sorted(router_contract.recorded().items(), key=lambda item: int(item[0])):
        lines += [f"### Version {version}", "", record["summary"], ""]
        if previous:
            for key, label in (
                ("provider_types", "provider types"),
                ("auth_types", "auth types"),
                ("failover_steps", "failover steps"),
                ("provider_fields", "provider fields"),
                ("region_fields", "region fields"),
            ):
                added = sorted(set(record[key]) - set(previous[key]))
                if added:
                    lines.append(f"- Adds {label}: {_list(added)}.")
            if record["regions_without_alibaba"] != previous["regions_without_alibaba"]:
                lines.append("- Adds regions served without Alibaba Cloud: `cloud_region` may be empty.")
            lines.append("")
        lines += ["| Provider type | Auth | Health check |", "|---|---|---|"]
        for router_type in record["provider_types"]:
            kind = by_type.get(router_type)
            auth = AUTH[kind.auth_type] if kind else "—"
            health = f"{kind.health_mode}, `{kind.health_path}`" if kind else "—"
            lines.append(f"| `{router_type}` | {auth} | {health} |")
        lines += [
            "",
            f"Failover steps: {_list(record['failover_steps'])}. Auth types: {_list(record['auth_types'])}.",
            f"Provider fields: {_list(record['provider_fields'])}.",
            f"Region fields: {_list(record['region_fields'])}.",
            "",
        ]
        previous = record
    return lines[:-1]


def render(text: str) -> str:
    return generated_docs.replace(text, MARKER, section(), OUTPUT.name)


def main(argv: list[str] | None = None) -> int:
    return generated_docs.command(argv, "python -m offline.contract_docs", __doc__.splitlines()[0], OUTPUT, render)


if __name__ == "__main__":
    sys.exit(main())
