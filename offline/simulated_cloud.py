"""What the cloud would answer, simulated for the mock engine: ids, account, zones, computed endpoints."""

from __future__ import annotations

from typing import Any

import pulumi

# A 16-digit Alibaba account UID shape, plainly not a real account.
SIMULATED_ACCOUNT_ID = "0000000000000000"
SIMULATED_ID_PREFIX = "sim-"


def simulated_zone_ids(region: str) -> list[str]:
    return [f"{region}-sim-{letter}" for letter in "abc"]


class SimulatedCloud(pulumi.runtime.Mocks):
    """Echo inputs as outputs and add the computed outputs the program reads, each plainly simulated."""

    def __init__(self, region: str):
        self.region = region
        self.invoked: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        state.update(self._computed(args.typ, args.inputs))
        return f"{SIMULATED_ID_PREFIX}{args.name}", state

    def _computed(self, typ: str, inputs: dict[str, Any]) -> dict[str, Any]:
        if typ == "alicloud:oss/bucket:Bucket":
            return {
                "intranetEndpoint": f"oss-{self.region}-internal.aliyuncs.com",
                "extranetEndpoint": f"oss-{self.region}.aliyuncs.com",
                "location": f"oss-{self.region}",
            }
        return {}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        self.invoked.append(args.token)
        if args.token == "alicloud:index/getAccount:getAccount":
            return {"id": SIMULATED_ACCOUNT_ID}
        if args.token == "alicloud:index/getZones:getZones":
            ids = simulated_zone_ids(self.region)
            return {"ids": ids, "zones": [{"id": zone} for zone in ids]}
        # Loud rather than an empty answer: a program reading a field of {} would pass vacuously.
        raise NotImplementedError(f"the offline plan has no simulation for invoke {args.token}")
