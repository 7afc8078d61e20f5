"""The bench's replay floor (bench/replay.py) declares exactly what a stack declares, as a plain program.

The floor is what `make bench` divides the plan's cost by; if it drifted from the program (a resource option it
cannot replay, an input it drops), the ratio would flatter or wrong the program without anyone noticing.
"""

from __future__ import annotations

import re

import pytest

from bench import replay
from offline.stack_files import load_stack_config


@pytest.fixture(scope="module")
def recording() -> replay.Recording:
    return replay.record(load_stack_config("us-east"))


def test_the_replay_floor_declares_what_the_region_stack_declares(recording):
    program = replay.write_program(recording)
    source = next(program.glob("beacon_replay_*.py")).read_text()

    assert replay.check_replay(recording, replay.replay(recording, program)) == []
    # A plain program: the SDK's generic classes only, none of the project's code or the provider SDKs' classes.
    assert re.findall(r"^(?:import|from) \S+", source, re.MULTILINE) == ["import pulumi", "from pulumi"]
    assert re.findall(r"^class \w+\((\S+)\):", source, re.MULTILINE) == [
        "pulumi.CustomResource",
        "pulumi.ProviderResource",
        "pulumi.ComponentResource",
    ]
    assert source.count(" = Custom(") + source.count(" = Provider(") == sum(
        r.custom and not r.read for r in recording.synthesis.resources
    )


def test_a_replay_that_declares_something_else_is_refused(recording):
    program = replay.write_program(recording)
    module = next(program.glob("beacon_replay_*.py"))
    module.write_text(module.read_text().replace("'AES256'", "'KMS'", 1))

    problems = replay.check_replay(recording, replay.replay(recording, program))

    assert problems == [
        "urn:pulumi:us-east::beacon-fleet::beacon-fleet:storage:ModelBucket$alicloud:oss/bucket:Bucket::models-bucket:"
        " differs"
    ]
