"""Pulumi components of a beacon-fleet region: one ComponentResource per module, named after it."""
