"""End to end against our own engine: the light commands (``ps``, ``exec``) take the project from
``compose.loadcache`` on a second run, and follow an edit of ``compose.yaml`` at once (a new service is known, a
broken file is reported with its location)."""
from __future__ import annotations

import os
import time

import pytest

from tests.e2e.test_up_down import engine, project  # noqa: F401

pytestmark = pytest.mark.root

_SLEEPER = """
services:
  box:
    image: busybox:local
    command: ["sleep", "3600"]
"""
_EXTRA = """  extra:
    image: busybox:local
    command: ["sleep", "3600"]
"""
_HIT = "project summary from the cache"


def _age(*paths) -> None:
    """Times an hour back: files not touched within the cache's clock margin."""
    old = time.time_ns() - 3600 * 10**9
    for p in paths:
        os.utime(p, ns=(old, old))


def test_light_commands_use_the_cache_and_follow_edits(engine, project, tmp_path_factory):  # noqa: F811
    env = {"PYCOMPOSE_CACHE_DIR": str(tmp_path_factory.mktemp("cache")), "PYCOMPOSE_TRACE": "1"}
    project.write(_SLEEPER)
    _age(project.dir / "compose.yaml", project.dir)
    project.compose("up", "-d")
    try:
        first = project.compose("ps", "-q", env=env)
        second = project.compose("ps", "-q", env=env)
        assert _HIT not in first.err and _HIT in second.err
        assert second.out == first.out and len(second.out.split()) == 1
        project.compose("exec", "-T", "box", "true", env=env)
        ran = project.compose("exec", "-T", "box", "echo", "hi", env=env)
        assert _HIT in ran.err and ran.out == "hi\n"

        project.write(_SLEEPER + _EXTRA)  # a new service: known at once
        missing = project.compose("ps", "extra", env=env)
        assert _HIT not in missing.err and missing.out.splitlines()[0].startswith("NAME")

        project.write(_SLEEPER.replace("image: busybox:local", "image: [1]"))
        broken = project.compose("ps", env=env, check=False)
        assert broken.code == 1 and "compose.yaml:" in broken.err and "services.box.image" in broken.err
    finally:
        project.write(_SLEEPER)  # the fixture's down reads the file
