"""Image endpoints over docker-py and the docker CLI: import, list, inspect, tag, history, save/load, remove."""
from __future__ import annotations

import io
import json
import tarfile

import docker
import pytest


def _import(daemon, busybox_tar, ref="busybox:latest"):
    repo, _, tag = ref.partition(":")
    client = daemon.client()
    with open(busybox_tar, "rb") as fh:
        out = client.api.import_image_from_data(fh.read(), repository=repo, tag=tag,
                                                changes=['CMD ["sh"]', "ENV HELLO=world"])
    return client, out


def test_import_list_inspect_tag_remove(daemon, busybox_tar):
    client, out = _import(daemon, busybox_tar)
    image_id = json.loads(out.strip().splitlines()[-1])["status"]
    assert image_id.startswith("sha256:")
    image = client.images.get("busybox")
    assert image.id == image_id and image.tags == ["busybox:latest"]
    assert image.attrs["Config"]["Cmd"] == ["sh"] and "HELLO=world" in image.attrs["Config"]["Env"]
    assert image.tag("localhost:5000/bb", "v1")
    assert set(client.images.get(image_id).tags) == {"busybox:latest", "localhost:5000/bb:v1"}
    assert [i.id for i in client.images.list(name="busybox")] == [image_id]
    assert len(client.images.list(filters={"dangling": True})) == 0
    assert client.api.history("busybox")[0]["Id"] == image_id
    res = client.api.remove_image("localhost:5000/bb:v1")
    assert res == [{"Untagged": "localhost:5000/bb:v1"}]
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("nope:latest")
    client.images.remove("busybox")
    assert client.images.list() == []


def test_save_and_load_roundtrip(daemon, busybox_tar):
    client, _ = _import(daemon, busybox_tar)
    data = b"".join(client.images.get("busybox").save(named=True))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert "manifest.json" in tar.getnames()
    client.images.remove("busybox")
    loaded = client.images.load(data)
    assert [i.tags for i in loaded] == [["busybox:latest"]]


def test_cli_images_and_bad_names(daemon, busybox_tar):
    _import(daemon, busybox_tar)
    out = daemon.cli("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert out == ["busybox:latest"]
    bad = daemon.cli("image", "inspect", "no-such-image", check=False)
    assert bad.returncode != 0 and "No such image" in bad.stderr
    bad = daemon.cli("tag", "busybox", "UPPER/case", check=False)
    assert bad.returncode != 0


def test_system_df_reports_the_store_on_disk(engine):
    client = engine.client()
    client.images.get("busybox:latest").tag("busybox", "again")
    df = client.df()
    sizes = [i["Size"] for i in df["Images"]]
    assert len(df["Images"]) == 1 and sizes[0] > 0  # one image under two tags
    assert df["LayersSize"] == sizes[0] and df["Images"][0]["SharedSize"] == 0  # its layers, shared with none
    client.containers.create("busybox", ["true"], network_mode="none")
    out = engine.cli("system", "df", "--format", "{{.Type}} {{.TotalCount}}").stdout.split("\n")
    assert "Images 1" in out and "Containers 1" in out
    # a second image on top of the first: the base layer is shared, and counted once
    maker = client.containers.run("busybox", ["sh", "-c", "echo 12345 > /grown"], network_mode="none", detach=True)
    maker.wait()
    child = maker.commit("grown", "v1")
    df = client.df()
    by_id = {i["Id"]: i for i in df["Images"]}
    base, top = by_id[client.images.get("busybox").id], by_id[child.id]
    assert top["Size"] > base["Size"] and (base["SharedSize"], top["SharedSize"]) == (base["Size"], base["Size"])
    assert df["LayersSize"] == top["Size"]  # base + the new layer
    maker.remove()
    client.images.remove(child.id)
