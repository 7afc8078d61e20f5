"""beacon-fleet: one region of Project Beacon's GPU inference fleet, or the router stack that gathers them all.

`stackRole` in the stack's config says which. Validation runs first and raises one error listing every
problem, so nothing is half-declared.
"""

from fleet.settings.source import current_stack_role, load_router_settings, load_settings
from stacks.region import declare_region
from stacks.router import declare_router

if current_stack_role() == "router":
    declare_router(load_router_settings())
else:
    declare_region(load_settings())
