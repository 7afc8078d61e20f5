"""What the cloud would answer, simulated for the mock engine: ids, account, zones, computed outputs.

Every simulated value is recognisable as such (sim- ids, the all-zero account, .invalid hosts,
"simulated" credentials), so nothing in a plan can be mistaken for something a cloud returned.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from offline import cloud_facts
from offline.real_cloud import (
    EAS_TOKEN_TYPE,
    EAS_TYPE,
    eas_export,
    internet_endpoint,
    intranet_endpoint,
    json_object,
)

# A 16-digit Alibaba account UID shape, plainly not a real account.
SIMULATED_ACCOUNT_ID = "0000000000000000"
SIMULATED_ID_PREFIX = "sim-"
SIMULATED_CREDENTIAL = "simulated-offline-credential"
SIMULATED_TIME = "1970-01-01T00:00:00Z"


def simulated_zone_ids(region: str) -> list[str]:
    return [f"{region}-sim-{letter}" for letter in "abc"]


def simulated_digest(inputs: dict[str, Any]) -> str:
    """A stable stand-in for an image digest: the hash of what the build was asked to do, not of an image."""
    build = json.dumps(inputs.get("build") or {}, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(f"{inputs.get('imageName')}|{build}".encode()).hexdigest()


def simulated_kubeconfig(cluster_id: str, region: str) -> str:
    """As cs.get_cluster_credential answers: always the internet endpoint, whether the cluster has one or not."""
    return (
        "# Simulated offline: no cluster exists and this holds no credential.\n"
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: {cluster_id}\n  cluster:\n    server: {internet_endpoint(cluster_id, region)}\n"
        f"contexts:\n- name: {cluster_id}\n  context:\n    cluster: {cluster_id}\n    user: {cluster_id}\n"
        f"current-context: {cluster_id}\n"
        f"users:\n- name: {cluster_id}\n  user:\n    token: {SIMULATED_CREDENTIAL}\n"
    )


# The simulated account has authorized ACK's service roles, as a real one must have before `pulumi up`
# (ack_service_roles in offline/cloud_facts.json, where every fact this module uses has its source).
SIMULATED_SERVICE_ROLES = tuple(cloud_facts.value("ack_service_roles"))
OSS_ENDPOINTS = cloud_facts.value("oss_endpoints")
_ID_PREFIXES = cloud_facts.value("resource_id_prefixes")
# Ids that other inputs validate by shape (the chart's schema checks lb-* and acl-*): the real prefix.
ID_SHAPES = {
    t: _ID_PREFIXES[t] for t in ("alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer", "alicloud:slb/acl:Acl")
}
# Ids the provider's own rules check by a shape without separators: ManagedKubernetes takes vSwitch ids matching
# ^vsw-[a-z0-9]*$ (policy/alicloud_rules.json). The real prefix, then "sim" and the name's letters and digits.
COMPACT_ID_SHAPES = {t: _ID_PREFIXES[t] for t in ("alicloud:vpc/switch:Switch",)}


@dataclass(frozen=True)
class StackOutputs:
    """What a StackReference reads from another stack: its outputs and which of them are secret."""

    values: Mapping[str, Any]
    secret_names: tuple[str, ...] = ()


class SimulatedCloud(pulumi.runtime.Mocks):
    """Echo inputs as outputs and add the computed outputs the program reads, each plainly simulated.

    `stacks` holds the outputs other offline syntheses produced, by stack name, for the StackReferences of a
    stack that reads them (the router stack); a reference to a stack not there reads no outputs.
    """

    def __init__(
        self,
        region: str,
        stacks: Mapping[str, StackOutputs] | None = None,
        service_roles: tuple[str, ...] = SIMULATED_SERVICE_ROLES,
    ):
        self.region = region
        self.service_roles = service_roles
        self.stacks = dict(stacks or {})
        self.invoked: list[str] = []
        self.referenced: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        resource_id = f"{SIMULATED_ID_PREFIX}{args.name}"
        if args.typ == EAS_TYPE:
            # The provider's id for a service is its name, from CreateService's answer.
            resource_id = str(json_object(args.inputs.get("serviceConfig")).get("metadata", {}).get("name", ""))
        if args.typ in ID_SHAPES:
            # Ids that other inputs validate by shape (the chart's schema checks lb-* and acl-*).
            resource_id = ID_SHAPES[args.typ] + re.sub(r"[^a-z0-9-]+", "-", resource_id.lower())
        if args.typ in COMPACT_ID_SHAPES:
            resource_id = COMPACT_ID_SHAPES[args.typ] + re.sub(r"[^a-z0-9]+", "", resource_id.lower())
        state = dict(args.inputs)
        state.update(self._computed(args.typ, resource_id, args.inputs))
        return resource_id, state

    def _computed(self, typ: str, resource_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
        if typ == "pulumi:pulumi:StackReference":
            name = str(inputs.get("name", ""))
            self.referenced.append(name)
            # <organization>/<project>/<stack>: offline, every stack is this project's, found by its own name.
            found = self.stacks.get(name.rsplit("/", 1)[-1], StackOutputs(values={}))
            return {"outputs": dict(found.values), "secretOutputNames": list(found.secret_names)}
        if typ == "alicloud:oss/bucket:Bucket":
            return {
                "intranetEndpoint": OSS_ENDPOINTS["internal"].format(region=self.region),
                "extranetEndpoint": OSS_ENDPOINTS["public"].format(region=self.region),
                "location": f"oss-{self.region}",
            }
        if typ == "alicloud:cs/managedKubernetes:ManagedKubernetes":
            public = bool(inputs.get("slbInternetEnabled"))
            return {
                "slbId": f"lb-{resource_id}",
                "connections": [
                    {
                        "apiServerIntranet": intranet_endpoint(resource_id, self.region),
                        "apiServerInternet": internet_endpoint(resource_id, self.region) if public else "",
                        "serviceDomain": f"*.{resource_id}.{self.region}.alicontainer.com",
                    }
                ],
                "rrsaMetadata": {
                    "enabled": True,
                    "ramOidcProviderName": f"ack-rrsa-{resource_id}",
                    "ramOidcProviderArn": f"acs:ram::{SIMULATED_ACCOUNT_ID}:oidc-provider/ack-rrsa-{resource_id}",
                    "rrsaOidcIssuerUrl": f"https://oidc-ack-{self.region}.invalid/{resource_id}",
                },
            }
        if typ == "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer":
            # A name, not an address: under .invalid, so nothing can mistake it for a live endpoint.
            return {"address": f"{resource_id}.slb.{self.region}.invalid"}
        if typ == EAS_TYPE:
            # Read after create: the config as DescribeService exports it, and when the service was created.
            exported = eas_export(json_object(inputs.get("serviceConfig")))
            return {
                "serviceConfig": json.dumps(exported, sort_keys=True, separators=(",", ":")),
                "createTime": SIMULATED_TIME,
            }
        if typ == EAS_TOKEN_TYPE:
            # Deterministic, so plans are byte-stable; a secret, so it only ever appears masked.
            return {"token": "simulated-eas-token-" + hashlib.sha256(resource_id.encode()).hexdigest()[:16]}
        if typ == "alicloud:fc/v3Trigger:V3Trigger":
            # FC answers a trigger's URLs over HTTP and HTTPS; the host is a name under .invalid.
            host = f"{re.sub(r'[^a-z0-9-]+', '-', resource_id.lower())}.{self.region}.fcapp.run.invalid"
            return {"httpTrigger": {"urlInternet": f"https://{host}", "urlIntranet": f"https://vpc-{host}"}}
        if typ == "alicloud:cs/nodePool:NodePool":
            return {"nodePoolId": f"np-{resource_id}"}
        if typ == "alicloud:ram/role:Role":
            return {"arn": f"acs:ram::{SIMULATED_ACCOUNT_ID}:role/{inputs.get('roleName', '')}".lower()}
        if typ == "alicloud:ram/policy:Policy":
            return {"type": "Custom"}
        if typ == "docker:index/image:Image":
            name = str(inputs.get("imageName", ""))
            repository = name.rsplit(":", 1)[0]
            return {"repoDigest": f"{repository}@{simulated_digest(inputs)}", "baseImageName": name}
        if typ == "runpod:index:Template":
            template = {"id": f"tpl-{resource_id}", "name": inputs.get("name"), "imageName": inputs.get("imageName")}
            return {"template": template}
        if typ == "runpod:index:Endpoint":
            return {"endpoint": {"id": f"ep-{resource_id}", "name": inputs.get("name")}}
        if typ == "pulumi-python:dynamic/modal:App":
            return {"url": f"https://sim--{inputs.get('app_name')}.modal.run.invalid"}
        if typ == "random:index/randomPassword:RandomPassword":
            # Deterministic, so plans are byte-stable; it only ever appears masked.
            length = int(inputs.get("length", 16))
            return {"result": hashlib.sha256(resource_id.encode()).hexdigest()[:length]}
        return {}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        self.invoked.append(args.token)
        if args.token == "alicloud:index/getAccount:getAccount":
            return {"id": SIMULATED_ACCOUNT_ID}
        if args.token == "alicloud:index/getZones:getZones":
            ids = simulated_zone_ids(self.region)
            return {"ids": ids, "zones": [{"id": zone} for zone in ids]}
        if args.token == "alicloud:ram/getRoles:getRoles":
            pattern = re.compile(str(args.args.get("nameRegex") or ".*"))
            found = [name for name in self.service_roles if pattern.search(name)]
            return {
                "ids": found,
                "names": found,
                "roles": [
                    {
                        "id": name,
                        "name": name,
                        "arn": f"acs:ram::{SIMULATED_ACCOUNT_ID}:role/{name.lower()}",
                        "assumeRolePolicyDocument": "",
                        "createDate": "",
                        "description": "simulated",
                        "document": "",
                        "updateDate": "",
                    }
                    for name in found
                ],
            }
        if args.token == "alicloud:cs/getClusterCredential:getClusterCredential":
            cluster_id = str(args.args.get("clusterId", "sim-cluster"))
            return {
                "clusterId": cluster_id,
                "clusterName": cluster_id,
                "kubeConfig": simulated_kubeconfig(cluster_id, self.region),
                "expiration": SIMULATED_TIME,
                "certificateAuthorities": [],
            }
        if args.token == "alicloud:cs/getRegistryEnterpriseInstances:getRegistryEnterpriseInstances":
            ids = list(args.args.get("ids") or [])
            return {
                "ids": ids,
                "names": ids,
                "instances": [
                    {
                        "id": instance_id,
                        "name": instance_id,
                        "region": self.region,
                        "specification": "Basic",
                        "namespaceQuota": "",
                        "namespaceUsage": "",
                        "repoQuota": "",
                        "repoUsage": "",
                        "vpcEndpoints": [],
                        "publicEndpoints": [],
                        "tempUsername": "simulated-user",
                        "authorizationToken": SIMULATED_CREDENTIAL,
                    }
                    for instance_id in ids
                ],
            }
        # Loud rather than an empty answer: a program reading a field of {} would pass vacuously.
        raise NotImplementedError(f"the offline plan has no simulation for invoke {args.token}")
