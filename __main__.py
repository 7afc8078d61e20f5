"""beacon-fleet: one region of Project Beacon's GPU inference fleet, declared from the stack's config."""

from fleet.region import declare_region
from fleet.settings import load_settings

# Validation runs first and raises one error listing every problem, so nothing is half-declared.
declare_region(load_settings())
