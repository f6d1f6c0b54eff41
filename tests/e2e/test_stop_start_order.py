"""``stop``, ``start`` and ``restart`` on the light path (the cached project summary, ``compose.cli._ordered``)
act on the same containers, in the same dependency order, with the same progress lines, exit codes and engine
events as the full path (the project loaded, ``compose.plan``, ``compose.execute``):
each command line runs twice from the same state, on each path; the order is read from the engine's own events
over each run."""
from __future__ import annotations

import subprocess
import time

import pytest

from tests.e2e.test_up_down import PYCOMPOSE, _environ, engine, project  # noqa: F401

pytestmark = pytest.mark.root

# stop order: web before api and cache (link), api before db and cache, worker before db
_DEPS = """
services:
  db: {image: busybox:local, command: ["sleep", "3600"]}
  cache: {image: busybox:local, command: ["sleep", "3600"]}
  api:
    image: busybox:local
    command: ["sleep", "3600"]
    depends_on: [db, cache]
  web:
    image: busybox:local
    command: ["sleep", "3600"]
    depends_on:
      api: {condition: service_started}
    links: [cache]
  worker:
    image: busybox:local
    command: ["sleep", "3600"]
    depends_on:
      db: {condition: service_started, required: false}
"""
_NEEDS = {"api": {"db", "cache"}, "web": {"api", "cache"}, "worker": {"db"}}


@pytest.fixture
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("summary-cache")  # outside the project: its writes change no watched directory


def _run(project, cache_dir, light: bool, *args: str) -> tuple[int, list[str], list[tuple[str, str]]]:
    """``pycompose ARGS`` on the light path (the summary a light ``ps`` with the same services kept first) or
    the full one (``PYCOMPOSE_PROJECT_CACHE=0``), checked to have taken it: (exit code, its progress lines, the
    engine's container events during the run as (action, service))."""
    trace = cache_dir.parent / f"{cache_dir.name}.trace"
    trace.unlink(missing_ok=True)
    env = {"PYCOMPOSE_CACHE_DIR": str(cache_dir), "PYCOMPOSE_TRACE": str(trace)}
    if light:
        services = [a for i, a in enumerate(args[1:]) if not a.startswith("-") and args[i] != "-t"]
        subprocess.run([str(PYCOMPOSE), "ps", *services], cwd=project.dir, env=_environ(project.engine, env),
                       capture_output=True, timeout=120)  # (the summary is kept even when a service is unknown)
        trace.unlink()
    else:
        env["PYCOMPOSE_PROJECT_CACHE"] = "0"
    since = f"{time.time():.9f}"
    proc = subprocess.run([str(PYCOMPOSE), *args], cwd=project.dir, env=_environ(project.engine, env),
                          capture_output=True, text=True, timeout=120)
    until = f"{time.time():.9f}"
    assert "Traceback" not in proc.stderr, proc.stderr
    assert ("project summary from the cache" in trace.read_text()) is light, args  # the path asked for
    lines = proc.stderr.splitlines()
    events = project.engine.client().api.events(
        since=since, until=until, decode=True,
        filters={"type": "container", "label": [f"com.docker.compose.project={project.name}"]})
    return proc.returncode, lines, [(e["Action"], e["Actor"]["Attributes"]["com.docker.compose.service"])
                                    for e in events]


def _first(events: list[tuple[str, str]], action: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for i, (act, service) in enumerate(events):
        if act == action:
            out.setdefault(service, i)
    return out


def _assert_stop_order(events: list[tuple[str, str]], action: str) -> None:
    at = _first(events, action)
    for dependent, needs in _NEEDS.items():
        for dep in needs:
            if dependent in at and dep in at:
                assert at[dependent] < at[dep], (dependent, dep, events)


def _assert_start_order(events: list[tuple[str, str]]) -> None:
    at = _first(events, "start")
    for dependent, needs in _NEEDS.items():
        for dep in needs:
            if dependent in at and dep in at:
                assert at[dep] < at[dependent], (dep, dependent, events)


def _same(project, cache_dir, *args: str) -> tuple[int, list[tuple[str, str]]]:
    """Both paths on the same starting state (``up -d`` first): same exit code, same set of progress lines and
    the same events (as sets: containers of one level go in parallel); the light one's events returned."""
    def prepare() -> None:
        project.compose("up", "-d")
        if args[0] == "start":  # start needs stopped containers: the same ones on both runs
            project.compose("stop", "-t", "0")

    prepare()
    full = _run(project, cache_dir, False, *args)
    prepare()
    light = _run(project, cache_dir, True, *args)
    assert light[0] == full[0], (light, full)
    assert sorted(light[1]) == sorted(full[1]), (light[1], full[1])
    assert sorted(light[2]) == sorted(full[2]), (light[2], full[2])
    return light[0], light[2]


def test_light_and_full_paths_act_alike(engine, project, cache_dir):  # noqa: F811
    project.write(_DEPS)

    code, events = _same(project, cache_dir, "restart", "-t", "0")
    assert code == 0 and {s for a, s in events if a == "restart"} == {"db", "cache", "api", "web", "worker"}
    _assert_stop_order(events, "kill")

    code, events = _same(project, cache_dir, "restart", "-t", "0", "--no-deps", "api")
    assert code == 0 and {s for a, s in events if a == "restart"} == {"api"}

    code, events = _same(project, cache_dir, "stop", "-t", "0", "api", "db")
    assert code == 0 and {s for a, s in events if a == "stop"} == {"api", "db"}
    _assert_stop_order(events, "stop")

    code, events = _same(project, cache_dir, "stop", "-t", "0")
    assert code == 0 and {s for a, s in events if a == "stop"} == {"db", "cache", "api", "web", "worker"}
    _assert_stop_order(events, "stop")

    code, events = _same(project, cache_dir, "start")
    assert code == 0 and {s for a, s in events if a == "start"} == {"db", "cache", "api", "web", "worker"}
    _assert_start_order(events)

    code, events = _same(project, cache_dir, "start", "web")  # only web: its dependencies are not started
    assert code == 0 and {s for a, s in events if a == "start"} == {"web"}


def test_light_path_errors_read_as_the_full_ones(engine, project, cache_dir):  # noqa: F811
    project.write(_DEPS)
    project.compose("up", "-d")
    for args in (("restart", "nosuch"), ("stop", "-t", "0", "web", "nosuch"), ("start", "nosuch")):
        full = _run(project, cache_dir, False, *args)
        light = _run(project, cache_dir, True, *args)
        assert light[0] == full[0] == 1, (args, light, full)
        assert light[1] == full[1] and "no such service: nosuch" in light[1][-1], (light, full)
        assert light[2] == full[2] == [], (args, light, full)
    # nothing to do: no line, no event, exit 0
    project.compose("stop", "-t", "0", "db")
    full = _run(project, cache_dir, False, "stop", "db")
    light = _run(project, cache_dir, True, "stop", "db")
    assert light == full == (0, [], []), (light, full)


_FAILING = """
services:
  db: {image: busybox:local, command: ["/nosuch"]}
  api:
    image: busybox:local
    command: ["sleep", "3600"]
    depends_on: [db]
  worker:
    image: busybox:local
    command: ["sleep", "3600"]
    depends_on:
      db: {condition: service_started, required: false}
"""


def test_a_failed_start_reads_as_on_the_full_path(engine, project, cache_dir):  # noqa: F811
    """db cannot start: api (requires it) is skipped, worker (does not) is warned about; exit 1, same lines."""
    project.write(_FAILING)
    project.compose("create")
    full = _run(project, cache_dir, False, "start")
    light = _run(project, cache_dir, True, "start")
    assert light == full, (light, full)
    assert light[0] == 1 and any("failed, not required" in line for line in light[1]), light
    assert not any(a == "start" and s == "api" for a, s in light[2]), light


def test_hooks_take_the_full_path(engine, project, cache_dir):  # noqa: F811
    """pre_stop/post_start hooks run on the full path only: with the summary cached, restart still runs them."""
    out = project.dir / "out"
    out.mkdir()
    project.write("""
services:
  app:
    image: busybox:local
    command: ["sleep", "3600"]
    volumes: ["./out:/shared"]
    pre_stop:
      - command: sh -c 'echo pre-stop >> /shared/hooks'
    post_start:
      - command: sh -c 'echo post-start >> /shared/hooks'
""")
    project.compose("up", "-d")
    full = _run(project, cache_dir, False, "restart", "-t", "0")
    light = _run(project, cache_dir, True, "restart", "-t", "0")  # (the summary was valid: the hooks sent it on)
    assert light == full and light[0] == 0, (light, full)
    assert (out / "hooks").read_text().split() == ["post-start"] + ["pre-stop", "post-start"] * 2


def test_start_with_a_healthy_condition_waits_as_before(engine, project, cache_dir):  # noqa: F811
    """``start`` of a service whose depends_on asks for service_healthy takes the full path (the wait needs the
    healthcheck's settings): with the summary cached, the dependent still starts only once db is healthy."""
    project.write("""
services:
  db:
    image: busybox:local
    command: ["sleep", "3600"]
    healthcheck: {test: ["CMD", "true"], interval: 1s, start_period: 0s, start_interval: 0.1s}
  api:
    image: busybox:local
    command: ["sleep", "3600"]
    depends_on: {db: {condition: service_healthy}}
""")
    for light in (False, True):
        project.compose("up", "-d")
        project.compose("stop", "-t", "0")
        code, lines, events = _run(project, cache_dir, light, "start")
        assert code == 0, lines
        assert any("Healthy" in line for line in lines), lines
        order = [s for a, s in events if a in ("start", "health_status: healthy")]
        assert order[:3] == ["db", "db", "api"], events


def test_no_service_enabled_stops_every_labelled_container_as_before(engine, project, cache_dir):  # noqa: F811
    """With every service behind a profile, ``compose.plan`` stops all of the project's running containers
    (it knows them by their labels only): with the summary cached, stop still does."""
    project.write("""
services:
  extra: {image: busybox:local, command: ["sleep", "3600"], profiles: [debug]}
""")
    project.profiles = ("debug",)
    project.compose("--profile", "debug", "up", "-d")
    code, lines, events = _run(project, cache_dir, True, "stop", "-t", "0")
    assert code == 0 and ("stop", "extra") in events, (lines, events)
