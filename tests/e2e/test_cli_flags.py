"""End to end against our own engine: the ``docker compose`` flags added late: ``logs --since/--until``,
``ps --filter/--no-trunc``, ``up --abort-on-container-failure``, ``volumes``."""
from __future__ import annotations

import pytest

from tests.e2e.test_up_down import _wait_for, engine, project  # noqa: F401
from tests.registry.conftest import registry_factory  # noqa: F401 - the fixture, used by name

pytestmark = pytest.mark.root


def test_logs_since_and_until(engine, project):  # noqa: F811
    project.write("""
services:
  talk:
    image: busybox:local
    command: ["sh", "-c", "echo one; sleep 0.3; echo two"]
""")
    project.compose("up", "-d")
    _wait_for(lambda: project.container("talk").status == "exited", what="talk to exit")
    stamped = project.compose("logs", "-t", "--no-log-prefix").out.splitlines()
    assert [line.split(" ", 1)[1] for line in stamped] == ["one", "two"], stamped
    first, second = (line.split(" ", 1)[0] for line in stamped)

    def lines(*args: str) -> list[str]:
        return project.compose("logs", "--no-log-prefix", *args).out.splitlines()

    assert lines("--since", second) == ["two"]  # an RFC 3339 time with nanoseconds
    assert lines("--until", first) == ["one"]
    assert lines("--since", "1h") == ["one", "two"]  # relative: an hour ago
    assert lines("--until", "1h") == []
    assert lines("--since", "1h", "--until", "2999-01-01") == ["one", "two"]
    failed = project.compose("logs", "--since", "yesterday", check=False)
    assert failed.code == 1 and "--since yesterday" in failed.err and len(failed.err.strip().splitlines()) == 1


def test_ps_filter_and_no_trunc(engine, project):  # noqa: F811
    long_command = "echo a-command-longer-than-twenty-two-characters; exit 3"
    project.write(f"""
services:
  done:
    image: busybox:local
    command: ["sh", "-c", "{long_command}"]
  busy:
    image: busybox:local
    command: ["sleep", "3600"]
    stop_grace_period: 1s
""")
    project.compose("up", "-d")
    _wait_for(lambda: project.container("done").status == "exited", what="done to exit")
    exited = project.compose("ps", "--filter", "status=exited", "--format", "json").out.splitlines()
    assert [line.count('"Service": "done"') for line in exited] == [1]
    running = project.compose("ps", "--filter", "status=running", "-q").out.split()
    assert running == [project.container("busy").id]
    assert "…" in project.compose("ps", "-a").out
    full = project.compose("ps", "-a", "--no-trunc").out
    assert long_command in full and "…" not in full
    for value, words in (("status", "KEY=VAL"), ("name=x", "unknown filter name"), ("source=x", "not implemented")):
        failed = project.compose("ps", "--filter", value, check=False)
        assert failed.code == 1 and words in failed.err, (value, failed)
    # Go-style templates, as docker compose ps reads them
    rows = project.compose("ps", "-a", "--format", "{{.Service}} {{.State}} {{.ExitCode}}").out.splitlines()
    assert sorted(rows) == ["busy running 0", "done exited 3"]
    table_out = project.compose("ps", "--format", "table {{.Service}}\t{{.ID}}").out.splitlines()
    assert table_out[0].split() == ["SERVICE", "CONTAINER", "ID"]
    assert table_out[1].split() == ["busy", project.container("busy").id[:12]]
    for fmt, words in (("{{.Bogus}}", "no field 'Bogus'"), ("yaml", "expected table, json or a template")):
        failed = project.compose("ps", "--format", fmt, check=False)
        assert failed.code == 1 and words in failed.err, (fmt, failed)


def test_abort_on_container_failure_waits_for_a_failure(engine, project):  # noqa: F811
    import subprocess

    from tests.e2e.test_up_down import PYCOMPOSE, _environ

    (project.dir / "sig").mkdir()
    project.write("""
services:
  ok:
    image: busybox:local
    command: ["sh", "-c", "echo fine"]
  bad:
    image: busybox:local
    command: ["sh", "-c", "echo failing; while [ ! -f /sig/go ]; do sleep 0.05; done; exit 3"]
    volumes: ["./sig:/sig"]
  server:
    image: busybox:local
    command: ["sleep", "3600"]
    stop_grace_period: 1s
""")
    refused = project.compose("up", "--abort-on-container-failure", "--abort-on-container-exit", check=False)
    assert refused.code == 1 and "cannot be combined" in refused.err
    refused = project.compose("up", "-d", "--abort-on-container-failure", check=False)
    assert refused.code == 1 and "--detach cannot be combined" in refused.err
    proc = subprocess.Popen([str(PYCOMPOSE), "up", "--abort-on-container-failure", "-y", "--quiet-build", "-t",
                             "1"], cwd=project.dir, env=_environ(project.engine), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in proc.stdout:  # the exit of ok (code 0) is shown and aborts nothing
            seen.append(line)
            if "ok-1 exited with code 0" in line:
                break
        assert seen and "ok-1 exited with code 0" in seen[-1], seen
        assert project.container("bad").status == "running" and project.container("server").status == "running"
        (project.dir / "sig" / "go").write_text("")  # now bad fails
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3, (out, err)
    assert "bad-1 exited with code 3" in out and "Aborting on container exit..." in out
    assert project.container("server").status == "exited"


def test_run_env_from_file_interactive_and_create_yes(engine, project, tmp_path):  # noqa: F811
    project.write("""
services:
  box:
    image: busybox:local
    command: ["sleep", "3600"]
    environment: {FROM_YAML: "yaml"}
""")
    (project.dir / "vars.env").write_text("FROM_FILE=file\nBOTH=file\nQUOTED='q'\n")
    project.compose("create", "-y")
    out = project.compose("run", "--rm", "-T", "-i", "--quiet-build", "--remove-orphans", "--env-from-file",
                          "vars.env", "-e", "BOTH=flag", "box", "env").out.splitlines()
    assert {"FROM_FILE=file", "BOTH=flag", "QUOTED='q'", "FROM_YAML=yaml"} <= set(out), out
    missing = project.compose("run", "--rm", "-T", "--env-from-file", "nope.env", "box", "true", check=False)
    assert missing.code == 1 and "nope.env" in missing.err and len(missing.err.strip().splitlines()) == 1


def test_volumes_lists_the_projects_volumes(engine, project):  # noqa: F811
    import json

    project.write("""
services:
  db:
    image: busybox:local
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    volumes: ["data:/data"]
  web:
    image: busybox:local
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    volumes: ["cache:/cache"]
volumes:
  data: {}
  cache: {}
""")
    project.compose("up", "-d")
    data, cache = f"{project.name}_data", f"{project.name}_cache"
    table = project.compose("volumes").out.splitlines()
    assert table[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert sorted(line.split() for line in table[1:]) == sorted([["local", data], ["local", cache]])
    assert project.compose("volumes", "-q", "db").out.split() == [data]
    rows = [json.loads(line) for line in project.compose("volumes", "--format", "json", "web").out.splitlines()]
    assert [(r["Name"], r["Driver"]) for r in rows] == [(cache, "local")]
    assert project.compose("volumes", "--format", "{{.Name}} {{.Scope}}", "web").out == f"{cache} local\n"
    failed = project.compose("volumes", "--format", "{{.Nope}}", check=False)
    assert failed.code == 1 and "no field 'Nope'" in failed.err
    assert project.compose("volumes", "nosuch", check=False).code == 1


def test_dry_run_changes_nothing(engine, project):  # noqa: F811
    project.write("""
services:
  box:
    image: busybox:local
    command: ["sleep", "3600"]
    stop_grace_period: 1s
""")
    shown = project.compose("--dry-run", "up", "-d")
    assert f"DRY-RUN MODE -  Container {project.name}-box-1  Created" in shown.err, shown.err
    assert f"DRY-RUN MODE -  Container {project.name}-box-1  Started" in shown.err
    assert project.containers() == []
    assert "interactive run is not supported in dry-run mode" in project.compose("--dry-run", "up").out
    assert project.containers() == []
    project.compose("up", "-d")
    for args, word in ((("stop",), "Stopped"), (("kill",), "Killed"), (("pause",), "Paused"),
                       (("down",), "Removed")):
        shown = project.compose("--dry-run", *args)
        assert f"DRY-RUN MODE -  Container {project.name}-box-1  {word}" in shown.err, (args, shown.err)
        assert project.container("box").status == "running", args
    refused = project.compose("--dry-run", "exec", "-T", "box", "touch", "/made", check=False)
    assert refused.code == 1 and "does not support dry-run" in refused.err
    assert project.compose("exec", "-T", "box", "ls", "/made", check=False).code != 0
    shown = project.compose("--dry-run", "run", "--rm", "box", "touch", "/made")
    assert f"DRY-RUN MODE -  Container {project.name}-box-run-" in shown.err and "Started" in shown.err
    assert [c.name for c in project.containers()] == [f"{project.name}-box-1"]  # no one-off container made


def test_dry_run_build_builds_nothing(engine, project):  # noqa: F811
    import docker

    (project.dir / "ctx").mkdir()
    (project.dir / "ctx" / "Dockerfile").write_text("FROM busybox:local\nRUN touch /built\n")
    image = f"pc-dry-{project.name}:1"
    project.write(f"""
services:
  app:
    image: {image}
    build: ./ctx
""")
    shown = project.compose("--dry-run", "build")
    assert f"DRY-RUN MODE -  build service app: {image}" in shown.err
    with pytest.raises(docker.errors.ImageNotFound):
        engine.client().images.get(image)


def test_compatibility_all_resources_ansi_parallel(engine, project):  # noqa: F811
    project.write("""
services:
  talk:
    image: busybox:local
    command: ["echo", "hello"]
networks:
  spare: {}
volumes:
  unused: {}
""")
    project.compose("--compatibility", "--all-resources", "--parallel", "1", "up", "-d")
    names = [c.name for c in project.containers()]
    assert names == [f"{project.name}_talk_1"]
    client = engine.client()
    assert client.networks.get(f"{project.name}_spare") and client.volumes.get(f"{project.name}_unused")
    _wait_for(lambda: project.containers()[0].reload() or project.containers()[0].status == "exited",
              what="talk to exit")
    coloured = project.compose("--ansi", "always", "logs").out
    plain = project.compose("--ansi", "never", "logs").out
    assert "\x1b[" in coloured and "\x1b[" not in plain and "hello" in plain
    compat = project.compose("--compatibility", "logs").out
    assert compat.startswith("talk_1") and "| hello" in compat, compat  # the prefix without the project
    project.compose("--compatibility", "down", "-v")
    assert project.containers() == []


def test_config_resolve_image_digests(engine, project, registry_factory):  # noqa: F811
    import contextlib
    import json

    import docker

    from tests.runtime.build.conftest import tar_of

    reg = registry_factory()
    api = engine.client().api
    repo = f"{reg.host}/pc/dig{project.name}"
    api.import_image_from_data(tar_of({"f.txt": b"x\n"}), repository=repo, tag="1")
    try:
        api.push(repo, "1")
        digest = next(d for d in api.inspect_image(f"{repo}:1")["RepoDigests"]).partition("@")[2]
        assert digest.startswith("sha256:")
        project.write(f"""
services:
  app:
    image: {repo}:1
  pinned:
    image: {repo}@{digest}
""")
        out = project.compose("config", "--resolve-image-digests").out
        assert f"image: {repo}:1@{digest}" in out and f"image: {repo}@{digest}" in out
        locked = project.compose("config", "--lock-image-digests", "--format", "json").out
        assert json.loads(locked) == {"services": {"app": {"image": f"{repo}:1@{digest}"},
                                                   "pinned": {"image": f"{repo}@{digest}"}}}
        project.write("""
services:
  local:
    image: busybox:local
""")
        failed = project.compose("config", "--resolve-image-digests", check=False)
        assert failed.code == 1 and "has no registry digest" in failed.err
        assert len(failed.err.strip().splitlines()) == 1
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            api.remove_image(f"{repo}:1", force=True)
