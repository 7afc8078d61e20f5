"""A stack's config, read once into frozen, typed settings, one module per domain; everything is validated
before anything is declared.

Every problem is collected and reported together in one ``ConfigError`` (a ``pulumi.RunError``, which the
language host prints without a traceback), each line naming its config key and the fix, so a stack file can
be mended in one pass.

    source        what the engine handed the program (plain keys, which are secret, secret values)
    typed         config strings to typed values by Pulumi.yaml's declarations
    problems      the error collector and the checks several domains share
    residency, network, models, kubernetes, storage, eas, fc, counterparts, partner   one domain each
    region        a region stack's settings, composed from the domains
    router        the router stack's settings

The dataclasses they build are defined below the planners that take them, in fleet/settings_types.py, and
exported here too; the settings validate with the planners, so the planners never import this package.
"""

from fleet.settings.problems import ConfigError, Problems
from fleet.settings.region import FAILOVER_STEPS, parse_settings
from fleet.settings.router import parse_router_settings
from fleet.settings_types import (
    AckServingSettings,
    BucketSettings,
    CounterpartSettings,
    EasSettings,
    GpuChoice,
    ImageSettings,
    KubernetesSettings,
    NetworkSettings,
    RailwayTarget,
    RegionSettings,
    RegistrySettings,
    Residency,
    RouterSettings,
    Scaling,
    ServedModel,
)

__all__ = [
    "FAILOVER_STEPS",
    "AckServingSettings",
    "BucketSettings",
    "ConfigError",
    "CounterpartSettings",
    "EasSettings",
    "GpuChoice",
    "ImageSettings",
    "KubernetesSettings",
    "NetworkSettings",
    "Problems",
    "RailwayTarget",
    "RegionSettings",
    "RegistrySettings",
    "Residency",
    "RouterSettings",
    "Scaling",
    "ServedModel",
    "parse_router_settings",
    "parse_settings",
]
