"""``POST /build`` on a real engine daemon, driven by docker-py and by the Docker CLI's classic builder."""
from __future__ import annotations

import io
import os
from collections.abc import Iterator

import pytest

from tests.runtime.build.conftest import tar_of
from tests.runtime.daemon.conftest import Daemon, cleanup, start_daemon

pytestmark = pytest.mark.root


@pytest.fixture
def engine(tmp_path, busybox_tar) -> Iterator[Daemon]:
    if os.geteuid() != 0:
        pytest.skip("needs root (containers)")
    d = start_daemon(tmp_path / "engine")
    try:
        with open(busybox_tar, "rb") as fh:
            d.client().api.import_image_from_data(fh.read(), repository="busybox", tag="test", changes=['CMD ["sh"]'])
        yield d
    finally:
        cleanup(d)


def _run(client, image: str, cmd: list[str]) -> str:
    return client.containers.run(image, cmd, remove=True).decode()


def test_docker_py_build_from_fileobj_context(engine):
    client = engine.client()
    context = tar_of({
        "Dockerfile": "FROM busybox:test\nARG WHO=nobody\nRUN echo hi $WHO > /greeting\nCOPY data.txt /data.txt\n"
                      "LABEL stage=one\nCMD [\"cat\", \"/greeting\"]\n",
        "data.txt": "payload\n",
    })
    image, logs = client.images.build(fileobj=io.BytesIO(context), custom_context=True, tag="pyb:1",
                                      buildargs={"WHO": "docker-py"}, labels={"via": "api"})
    logs = list(logs)
    lines = [entry.get("stream", "") for entry in logs]
    assert "Step 1/7 : FROM busybox:test\n" in lines, lines
    assert any("aux" in entry for entry in logs)
    assert image.tags == ["pyb:1"]
    assert image.labels == {"stage": "one", "via": "api"}
    assert _run(client, "pyb:1", ["cat", "/greeting", "/data.txt"]) == "hi docker-py\npayload\n"
    # a second build is all cache hits and gives the same image
    again, logs = client.images.build(fileobj=io.BytesIO(context), custom_context=True, tag="pyb:2",
                                      buildargs={"WHO": "docker-py"}, labels={"via": "api"})
    assert again.id == image.id
    assert sum(" ---> Using cache" in entry.get("stream", "") for entry in logs) == 5  # all but FROM and ARG


def test_docker_py_build_from_path_with_dockerignore(engine, tmp_path):
    ctx = tmp_path / "ctx"
    (ctx / "keep").mkdir(parents=True)
    (ctx / "keep" / "a.txt").write_text("a\n")
    (ctx / "secret.key").write_text("nope\n")
    (ctx / ".dockerignore").write_text("*.key\n")
    (ctx / "Dockerfile").write_text("FROM busybox:test\nCOPY . /ctx/\n")
    image, _ = engine.client().images.build(path=str(ctx), tag="ign:1")
    out = _run(engine.client(), "ign:1", ["sh", "-c", "ls -a /ctx | sort | tr '\\n' ' '"])
    assert out == ". .. .dockerignore Dockerfile keep "


def test_failed_run_is_a_build_error_with_the_exit_code(engine):
    import docker.errors

    context = tar_of({"Dockerfile": "FROM busybox:test\nRUN echo about to fail && exit 3\n"})
    with pytest.raises(docker.errors.BuildError) as info:
        engine.client().images.build(fileobj=io.BytesIO(context), custom_context=True)
    assert "returned a non-zero code: 3" in str(info.value)
    log = "".join(e.get("stream", "") for e in info.value.build_log)
    assert "about to fail" in log
    assert engine.client().containers.list(all=True) == []


def test_dockerfile_errors_name_the_line(engine):
    import docker.errors

    context = tar_of({"Dockerfile": "FROM busybox:test\nFROBNICATE x\n"})
    with pytest.raises(docker.errors.BuildError) as info:
        engine.client().images.build(fileobj=io.BytesIO(context), custom_context=True)
    assert "Dockerfile:2" in str(info.value) and "unknown instruction" in str(info.value)


def test_quiet_build_streams_only_the_id(engine):
    context = tar_of({"Dockerfile": "FROM busybox:test\nENV Q=1\n"})
    out = list(engine.client().api.build(fileobj=io.BytesIO(context), custom_context=True, quiet=True,
                                         decode=True))
    streams = [e["stream"] for e in out if "stream" in e]
    assert len(streams) == 1 and streams[0].startswith("sha256:")


def test_docker_cli_classic_build(engine, tmp_path):
    ctx = tmp_path / "cli"
    ctx.mkdir()
    (ctx / "Dockerfile.web").write_text("FROM busybox:test AS base\nRUN mkdir /out && echo cli > /out/x\n"
                                        "FROM base AS final\nARG V\nENV V=$V\nWORKDIR /out\n")
    env_args = ["build", "-f", str(ctx / "Dockerfile.web"), "--build-arg", "V=7", "-t", "cli:1", str(ctx)]
    result = engine.cli(*env_args)
    assert "Successfully built" in result.stdout and "Successfully tagged cli:1" in result.stdout
    inspect = engine.client().images.get("cli:1").attrs
    assert "V=7" in inspect["Config"]["Env"] and inspect["Config"]["WorkingDir"] == "/out"
    out = _run(engine.client(), "cli:1", ["cat", "x"])
    assert out == "cli\n"


@pytest.fixture(autouse=True)
def _classic_builder(monkeypatch):
    monkeypatch.setenv("DOCKER_BUILDKIT", "0")


def test_build_prune_forgets_the_cache(engine):
    client = engine.client()
    context = tar_of({"Dockerfile": "FROM busybox:test\n"
                                    "RUN --mount=type=cache,target=/c echo x > /c/f && cp /c/f /f\n"})
    client.images.build(fileobj=io.BytesIO(context), custom_context=True, tag="pr:1")
    result = client.api.prune_builds()  # stale entries only: every layer is still there
    assert result["CachesDeleted"] in ([], None)
    result = client.api.post(client.api._url("/build/prune"), params={"all": "1"}).json()  # noqa: SLF001
    assert len(result["CachesDeleted"]) == 2 and result["SpaceReclaimed"] > 0  # one step, one cache mount
    _, logs = client.images.build(fileobj=io.BytesIO(context), custom_context=True, tag="pr:2")
    assert not any("Using cache" in e.get("stream", "") for e in logs)


def test_docker_cli_quiet_target_no_cache_network_and_labels(engine, tmp_path):
    ctx = tmp_path / "flags"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:test AS one\nRUN ls /sys/class/net > /nets\n"
                                    "FROM one AS two\nRUN exit 9\n")
    out = engine.cli("build", "-q", "--target", "one", "--network", "none", "--label", "k=v", "-t", "flags:1",
                     str(ctx))
    image_id = out.stdout.strip()
    assert image_id.startswith("sha256:") and "Step" not in out.stdout
    image = engine.client().images.get("flags:1")
    assert image.id == image_id and image.labels == {"k": "v"}
    assert _run(engine.client(), "flags:1", ["cat", "/nets"]) == "lo\n"
    again = engine.cli("build", "--no-cache", "--target", "one", "--network", "none", "--label", "k=v", str(ctx))
    assert "Using cache" not in again.stdout
    failed = engine.cli("build", str(ctx), check=False)
    assert failed.returncode != 0 and "returned a non-zero code: 9" in failed.stderr + failed.stdout


def test_docker_build_with_the_dockerfile_as_the_body(engine):
    out = engine.cli("build", "-t", "stdin:1", "-", input=b"FROM busybox:test\nRUN echo piped > /p\n")
    assert "Successfully tagged stdin:1" in out.stdout
    assert _run(engine.client(), "stdin:1", ["cat", "/p"]) == "piped\n"


def test_extra_hosts_reach_run_steps(engine, tmp_path):
    context = tar_of({"Dockerfile": "FROM busybox:test\nRUN grep -h example /etc/hosts > /h\n"})
    engine.client().images.build(fileobj=io.BytesIO(context), custom_context=True, tag="hosts:1",
                                 extra_hosts={"build.example": "10.1.2.3"})
    assert _run(engine.client(), "hosts:1", ["cat", "/h"]) == "10.1.2.3\tbuild.example\n"
    ctx = tmp_path / "cli-hosts"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:test\nRUN grep -h example /etc/hosts > /h\n")
    engine.cli("build", "--no-cache", "--add-host", "cli.example:10.9.9.9", "--add-host", "v6.example:fd00::1",
               "-t", "hosts:2", str(ctx))
    assert _run(engine.client(), "hosts:2", ["cat", "/h"]) == "10.9.9.9\tcli.example\nfd00::1\tv6.example\n"


def test_docker_cli_without_the_buildkit_switch_uses_our_builder(engine, tmp_path, monkeypatch):
    monkeypatch.delenv("DOCKER_BUILDKIT", raising=False)  # the engine announces Builder-Version 1 on /_ping
    ctx = tmp_path / "plain"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:test\nRUN echo plain > /p\n")
    result = engine.cli("build", "-t", "plain:1", str(ctx), check=False)
    assert result.returncode == 0, result.stderr
    assert _run(engine.client(), "plain:1", ["cat", "/p"]) == "plain\n"


def test_a_client_that_goes_away_cancels_the_build(engine):
    import json as _json
    import socket as _socket

    from tests.runtime.daemon.conftest import wait_for

    context = tar_of({"Dockerfile": "FROM busybox:test\nRUN echo $((6*7))-up && sleep 600\n"})
    with _socket.socket(_socket.AF_UNIX) as s:
        s.connect(str(engine.sock))
        s.sendall(b"POST /v1.43/build HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\n"
                  + f"Content-Length: {len(context)}\r\n\r\n".encode() + context)
        seen = b""
        while b"42-up" not in seen:  # the RUN's own output (the step line shows $((6*7)))
            chunk = s.recv(65536)
            assert chunk, "the stream ended before the RUN started"
            seen += chunk
    containers = engine.root / "containers"

    def build_containers() -> list[str]:
        out = []
        for cfg in containers.glob("*/config.json"):
            try:
                spec = _json.loads(cfg.read_text())["spec"]
            except (OSError, ValueError):
                continue
            if (spec.get("labels") or {}).get("com.pycompose.build") == "true":
                out.append(cfg.parent.name)
        return out

    wait_for(lambda: not build_containers(), timeout=60, what="the cancelled build's RUN container to go")


def test_a_foreign_platform_is_a_clear_api_error(engine):
    import docker.errors

    from runtime.images.config import host_platform

    other = "arm64" if host_platform()["architecture"] != "arm64" else "amd64"
    context = tar_of({"Dockerfile": "FROM busybox:test\n"})
    with pytest.raises(docker.errors.APIError, match="not supported"):
        list(engine.client().api.build(fileobj=io.BytesIO(context), custom_context=True, platform=f"linux/{other}"))
