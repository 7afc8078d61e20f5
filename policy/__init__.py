"""The policy pack's directory; importable as `policy.beacon_policies` by tests and the offline plan."""
