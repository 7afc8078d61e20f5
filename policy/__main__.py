"""The beacon-fleet policy pack, as `pulumi preview --policy-pack policy` loads it.

Constructing the PolicyPack starts the analyzer's gRPC server and blocks, so nothing imports this file;
the policies themselves are in beacon_policies.py, where tests and the offline plan use them.
"""

from beacon_policies import ALL_POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="beacon-fleet-guardrails",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=ALL_POLICIES,
)
