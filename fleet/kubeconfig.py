"""Kubeconfig handling, pure: point a kubeconfig ACK issued at the endpoint the deployer can reach.

`cs.get_cluster_credential` always returns the kubeconfig for the cluster's internet endpoint (the provider
hard-codes PrivateIpAddress=false; real-cloud-behaviour.md). A cluster without one is reached through its
intranet endpoint, which ACK's own intranet kubeconfig names with the same CA and client credentials, so only
`server` changes.
"""

from __future__ import annotations

import yaml

from fleet.config_schema import SAFE_LOADER


class KubeconfigError(ValueError):
    """The kubeconfig is not one this module can re-point: no cluster entries, or not YAML."""


def with_server(kubeconfig: str, server: str) -> str:
    """The same kubeconfig with every cluster's `server` set to `server` (e.g. https://10.0.0.5:6443)."""
    if not server.startswith("https://"):
        raise KubeconfigError(f"the API server endpoint '{server}' is not an https URL")
    try:
        document = yaml.load(kubeconfig, Loader=SAFE_LOADER)
    except yaml.YAMLError as error:
        raise KubeconfigError(f"the kubeconfig is not YAML ({type(error).__name__})") from None
    clusters = document.get("clusters") if isinstance(document, dict) else None
    if not clusters:
        raise KubeconfigError("the kubeconfig names no cluster")
    for entry in clusters:
        entry["cluster"]["server"] = server
    return yaml.safe_dump(document, sort_keys=False)


def server_of(kubeconfig: str) -> str:
    """The `server` of the kubeconfig's first cluster (what the Kubernetes provider connects to)."""
    document = yaml.load(kubeconfig, Loader=SAFE_LOADER)
    return str(document["clusters"][0]["cluster"]["server"])
