"""The environment block recorded beside every benchmark's figures."""

from __future__ import annotations

import json
import os
import platform
import re

from rtdecode.bench import ENV_KEYS, capture_environment


def test_environment_has_every_documented_key_and_is_json() -> None:
    env = capture_environment({"threads": 2})
    assert tuple(env) == ENV_KEYS
    assert json.loads(json.dumps(env)) == env
    assert env["engine_settings"] == {"threads": 2}


def test_environment_describes_this_machine_and_software() -> None:
    import numpy
    import zmq

    env = capture_environment()
    assert env["cpu_count_logical"] == os.cpu_count()
    assert 1 <= env["cpu_count_usable"] <= env["cpu_count_logical"]
    assert env["cpu_model"]
    assert env["python"] == platform.python_version()
    assert env["packages"]["numpy"] == numpy.__version__
    assert env["packages"]["pyzmq"] == zmq.__version__
    assert set(env["packages"]) >= {"numpy", "torch", "onnxruntime", "pyzmq", "rtdecode"}
    assert env["memory_total_mib"] > 0


def test_git_sha_is_recorded_from_a_checkout() -> None:
    env = capture_environment()
    # the test suite runs from a git checkout (worktree or clone)
    assert env["git_sha"] is not None and re.fullmatch(r"[0-9a-f]{40}", env["git_sha"])
    assert isinstance(env["git_dirty"], bool)
