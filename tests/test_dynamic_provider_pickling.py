"""A synthesis that declares dynamic resources leaves Python's pickler as it found it.

The SDK's pulumi.dynamic.serialize_provider wraps pickle._Pickler._batch_setitems once more for every dynamic
resource and never unwraps it. One program per process, as the language host runs it, stays shallow; the offline
engine runs many programs in one process (`make plan`, the bench, this suite), and before offline.engine put the
pickler back after each synthesis the chain grew until dill hit a RecursionError serializing the Railway provider
(the bench's 4 regions x 6 models router run).
"""

from __future__ import annotations

import base64
import pickle
from pathlib import Path

import dill

from offline.engine import synthesize
from providers.railway_variables import RailwayVariablesProvider

DYNAMIC_PROGRAM = """
from providers.railway_variables import RailwayServiceVariables

RailwayServiceVariables(
    "router-railway",
    api_url="https://backboard.railway.com/graphql/v2",
    project_id="00000000-0000-0000-0000-000000000000",
    environment_id="00000000-0000-0000-0000-000000000000",
    service_id="00000000-0000-0000-0000-000000000000",
    token_type="project",
    variables={"BEACON_ROUTER_CONFIG": "{}"},
)
"""


def pickler_state() -> tuple[object, ...]:
    return pickle.Pickler, pickle._Pickler.__dict__["_batch_setitems"], pickle._Pickler.__dict__["save_dict"]  # noqa: SLF001


def test_a_synthesis_with_a_dynamic_resource_leaves_the_pickler_as_it_found_it(tmp_path: Path) -> None:
    (tmp_path / "__main__.py").write_text(DYNAMIC_PROGRAM)
    before = pickler_state()

    result = synthesize("pickling", {}, program_dir=str(tmp_path))

    assert result.ok, result.error
    assert [r.type for r in result.resources] == ["pulumi-python:dynamic/railway:ServiceVariables"]
    assert "__provider" in result.resources[0].machinery  # the SDK did serialize the provider
    assert pickler_state() == before


def test_pickling_works_as_before_after_many_syntheses(tmp_path: Path) -> None:
    (tmp_path / "__main__.py").write_text(DYNAMIC_PROGRAM)
    first = synthesize("pickling", {}, program_dir=str(tmp_path)).resources[0].machinery["__provider"]
    for _ in range(20):
        synthesize("pickling", {}, program_dir=str(tmp_path))
    last = synthesize("pickling", {}, program_dir=str(tmp_path)).resources[0].machinery["__provider"]
    # A fresh pickler takes some 200 levels of nesting under Python's default recursion limit; with one more
    # wrapper per dynamic resource declared, these syntheses had brought that down to about 40.
    nested: dict = {}
    for _ in range(100):
        nested = {"level": nested}

    assert last == first
    assert isinstance(dill.loads(base64.b64decode(last.value)), RailwayVariablesProvider)
    assert dill.loads(dill.dumps(nested, recurse=True)) == nested
