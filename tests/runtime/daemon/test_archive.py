"""docker cp both ways (running and stopped containers), docker diff, export and commit."""
from __future__ import annotations

import io
import json
import tarfile

import pytest

pytestmark = pytest.mark.root


def test_cp_diff_export_commit(engine, tmp_path):
    src = tmp_path / "hello.txt"
    src.write_text("hello from the host\n")
    engine.cli("run", "-d", "--name", "files", "busybox", "sh", "-c",
               "echo made > /tmp/made; rm /etc/group; ln -s /etc/passwd /tmp/escape; exec sleep 1000")
    engine.cli("cp", str(src), "files:/root/")
    assert engine.cli("exec", "files", "cat", "/root/hello.txt").stdout == "hello from the host\n"
    out = tmp_path / "out"
    out.mkdir()
    engine.cli("cp", "files:/etc/passwd", str(out / "passwd"))
    assert (out / "passwd").read_text().startswith("root:x:0:0")
    missing = engine.cli("cp", "files:/no/such", str(out), check=False)
    assert missing.returncode != 0 and "Could not find the file" in missing.stderr
    # a symlink in the container resolves inside the container, never to the host's file
    engine.cli("cp", "-L", "files:/tmp/escape", str(out / "escaped"))
    assert (out / "escaped").read_text().startswith("root:x:0:0:root:/root:/bin/sh")
    changes = {line for line in engine.cli("diff", "files").stdout.splitlines()}
    assert {"A /tmp/made", "D /etc/group", "A /root/hello.txt", "C /tmp"} <= changes
    engine.cli("stop", "-t", "0", "files")
    # a stopped container's files are reached through its overlay
    engine.cli("cp", "files:/tmp/made", str(out / "made"))
    assert (out / "made").read_text() == "made\n"
    client = engine.client()
    exported = b"".join(client.containers.get("files").export())
    with tarfile.open(fileobj=io.BytesIO(exported)) as tar:
        names = set(tar.getnames())
    assert "tmp/made" in names and "etc/group" not in names and "bin/busybox" in names
    image_id = engine.cli("commit", "-c", "ENV COMMITTED=1", "files", "snapshot:v1").stdout.strip()
    assert image_id.startswith("sha256:")
    out = engine.cli("run", "--rm", "snapshot:v1", "sh", "-c", "cat /tmp/made; echo $COMMITTED; ls /etc/group",
                     check=False)
    assert out.stdout.startswith("made\n1\n") and out.returncode != 0


def test_commit_author_comment_shown_by_cli_and_docker_py(engine):
    engine.cli("run", "-d", "--name", "authored", "busybox", "sh", "-c", "echo x > /x; exec sleep 1000")
    engine.cli("commit", "-a", "Jane Doe <jane@example.com>", "-m", "first snapshot", "-c", "LABEL made=yes",
               "authored", "authored:v1")
    fmt = engine.cli("inspect", "-f", "{{.Author}}|{{.Comment}}|{{.Config.Labels.made}}", "authored:v1")
    assert fmt.stdout.strip() == "Jane Doe <jane@example.com>|first snapshot|yes"
    history = engine.cli("history", "--no-trunc", "--format", "{{.Comment}}|{{.CreatedBy}}", "authored:v1")
    assert history.stdout.splitlines()[0] == "first snapshot|sh -c echo x > /x; exec sleep 1000"
    client = engine.client()
    image = client.containers.get("authored").commit("authored", "v2", message="second", author="Bob")
    attrs = client.images.get("authored:v2").attrs
    assert (attrs["Author"], attrs["Comment"], attrs["Id"]) == ("Bob", "second", image.id)
    assert client.images.get("authored:v2").history()[0]["Comment"] == "second"
    # the parent's author and comment are not inherited by a commit that gives none
    engine.cli("run", "-d", "--name", "child", "authored:v1", "sleep", "1000")
    engine.cli("commit", "child", "authored:v3")
    plain = engine.cli("inspect", "-f", "{{.Author}}|{{.Comment}}", "authored:v3")
    assert plain.stdout.strip() == "|"
    engine.cli("rm", "-f", "authored", "child")


def test_diff_leaves_out_the_runtimes_own_mount_points(engine):
    """As Docker's init layer: /etc/hostname, /etc/hosts, /etc/resolv.conf, /proc, /sys and /dev are made by the
    runtime for its mounts (here in the container's upper dir, as the image lacks some) and never listed; /etc shows
    once something of the container's own changed in it."""
    engine.cli("run", "-d", "--name", "fresh", "busybox", "sleep", "1000")
    assert engine.cli("diff", "fresh").stdout == ""
    engine.cli("exec", "fresh", "touch", "/etc/mine")
    assert engine.cli("diff", "fresh").stdout.splitlines() == ["C /etc", "A /etc/mine"]
    engine.cli("rm", "-f", "fresh")


def test_commit_leaves_out_the_runtimes_own_mount_points(engine):
    """As Docker's init layer keeps them out of a commit: the new layer holds what the container changed, not the
    runtime's /etc/hostname, /etc/hosts, /etc/resolv.conf, /proc, /sys and /dev."""
    engine.cli("run", "-d", "--name", "snap", "busybox", "sleep", "1000")
    engine.cli("exec", "snap", "touch", "/etc/mine")
    engine.cli("commit", "snap", "snap:v1")
    saved = b"".join(engine.client().images.get("snap:v1").save())
    with tarfile.open(fileobj=io.BytesIO(saved)) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        top = outer.extractfile(manifest[0]["Layers"][-1]).read()
    with tarfile.open(fileobj=io.BytesIO(top), mode="r:*") as layer:
        assert sorted(layer.getnames()) == ["etc", "etc/mine"]
    engine.cli("rm", "-f", "snap")
