"""Pure parts of Compose OCI artifacts: references, the manifest layout both ways, and publish's review."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from compose.errors import UserError
from compose.oci.artifact import (
    ARTIFACT_TYPE, COMPOSE_FILE_MEDIA_TYPE, CONFIG_EMPTY_V1_0, EMPTY_MEDIA_TYPE, ENVFILE_MEDIA_TYPE, Blob,
    build_manifest, read_manifest,
)
from compose.oci.checks import review_project
from compose.oci.publish import build_layers, choose_oci_version
from compose.oci.reference import DOCKER_HUB_HOST, parse_reference
from compose.project import load_project
from compose.loader import LoadOptions

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize("text, host, repo, tag, digest", [
    ("oci://127.0.0.1:5000/team/app:1", "127.0.0.1:5000", "team/app", "1", None),
    ("localhost/app", "localhost", "app", None, None),
    ("user/app:v2", DOCKER_HUB_HOST, "user/app", "v2", None),
    ("busybox", DOCKER_HUB_HOST, "library/busybox", None, None),
    ("docker.io/busybox:1", DOCKER_HUB_HOST, "library/busybox", "1", None),
    (f"oci://reg.example.com/a/b/c@{DIGEST}", "reg.example.com", "a/b/c", None, DIGEST),
])
def test_references_parse_as_docker_does(text, host, repo, tag, digest):
    ref = parse_reference(text)
    assert (ref.host, ref.repository, ref.tag, ref.digest) == (host, repo, tag, digest)


@pytest.mark.parametrize("text, fragment", [
    ("oci://", "not a valid OCI reference"),
    ("oci://host.io/App:1", "lowercase"),
    ("oci://host.io/app@sha256:zz", "invalid digest"),
    ("oci://host.io/app:bad*tag", "invalid tag"),
])
def test_bad_references_are_user_errors(text, fragment):
    with pytest.raises(UserError, match=fragment):
        parse_reference(text)


def test_oci_1_1_manifest_marks_the_artifact_type_and_reads_back(tmp_path):
    (tmp_path / "compose.yaml").write_text("services: {a: {image: busybox}}\n")
    (tmp_path / "app.env").write_text("X=1\n")
    layers = build_layers([tmp_path / "compose.yaml"], [(tmp_path / "app.env", "app.env")], "9.9")
    body, config = build_manifest(layers, "1.1", {})
    manifest = json.loads(body)
    assert manifest["artifactType"] == ARTIFACT_TYPE
    assert manifest["config"]["mediaType"] == EMPTY_MEDIA_TYPE and config.data == b"{}"
    assert [layer["mediaType"] for layer in manifest["layers"]] == [COMPOSE_FILE_MEDIA_TYPE, ENVFILE_MEDIA_TYPE]
    assert manifest["layers"][0]["annotations"] == {"com.docker.compose.file": "compose.yaml",
                                                     "com.docker.compose.version": "9.9"}
    assert manifest["layers"][1]["annotations"]["com.docker.compose.envfile"] == "app.env"
    back = read_manifest(body)
    assert [(layer.name, layer.digest, layer.size) for layer in back] == \
        [(b.annotations.get("com.docker.compose.file") or b.annotations["com.docker.compose.envfile"], b.digest,
          len(b.data)) for b in layers]


def test_oci_1_0_falls_back_to_the_config_media_type():
    layers = [Blob(COMPOSE_FILE_MEDIA_TYPE, b"services: {}\n", {"com.docker.compose.file": "compose.yaml"})]
    body, config = build_manifest(layers, "1.0", {})
    manifest = json.loads(body)
    assert "artifactType" not in manifest and manifest["config"]["mediaType"] == CONFIG_EMPTY_V1_0
    assert read_manifest(body)[0].name == "compose.yaml"


def test_an_image_manifest_is_not_a_compose_application():
    image = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
             "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": DIGEST, "size": 2},
             "layers": []}
    with pytest.raises(ValueError, match="not a Compose application"):
        read_manifest(json.dumps(image).encode())
    with pytest.raises(ValueError, match="image index"):
        read_manifest(b'{"mediaType": "application/vnd.oci.image.index.v1+json"}')


def test_oci_version_default_and_ecr():
    assert choose_oci_version(parse_reference("reg.example.com/a"), None) == "1.1"
    assert choose_oci_version(parse_reference("1.dkr.ecr.us-east-1.amazonaws.com/a"), None) == "1.0"
    with pytest.raises(UserError, match="expected one of"):
        choose_oci_version(parse_reference("reg.example.com/a"), "2.0")


def _review(tmp_path: Path, text: str, with_env: bool = False, **files: str):
    (tmp_path / "compose.yaml").write_text(text)
    for name, content in files.items():
        (tmp_path / name.replace("_", ".")).write_text(content)
    loaded = load_project(LoadOptions(cwd=tmp_path, environ={}))
    from compose.yamlread import read_yaml

    raw = {"compose.yaml": read_yaml(text, "compose.yaml")}
    return review_project(loaded.canonical, raw, tmp_path, with_env)


def test_review_refuses_build_only_services_and_env_without_with_env(tmp_path):
    review = _review(tmp_path, "services:\n  a: {build: .}\n  b: {image: x, environment: [K=v]}\n")
    messages = " | ".join(p.message for p in review.errors)
    assert "service(s) a only build" in messages and "service(s) b declare environment" in messages
    assert review.confirm == []


def test_review_asks_about_bind_mounts_and_file_secrets(tmp_path):
    review = _review(tmp_path, "services:\n  a: {image: x, volumes: ['./d:/d', 'v:/v'], secrets: [s]}\n"
                               "volumes: {v: {}}\nsecrets: {s: {file: ./s.txt}}\n", s_txt="x")
    assert review.errors == []
    assert len(review.confirm) == 2
    assert "bind mount" in review.confirm[0] and review.confirm[0].endswith("-> /d")
    assert review.confirm[1].startswith("secret s: read from the host file")


def test_review_with_env_takes_env_files_inside_the_project_only(tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-outside.env"
    outside.write_text("Y=2\n")
    try:
        review = _review(tmp_path, f"services:\n  a: {{image: x, env_file: [app.env, {outside}]}}\n", with_env=True,
                         app_env="X=1\n")
    finally:
        outside.unlink()
    assert review.env_files == [(tmp_path / "app.env", "app.env")]
    assert len(review.errors) == 1 and "outside the project directory" in review.errors[0].message


def test_review_refuses_local_include_and_extends_file(tmp_path):
    (tmp_path / "other.yaml").write_text("services:\n  base: {image: x}\n  o: {image: y}\n")
    review = _review(tmp_path, "include: [other.yaml]\nservices:\n  a: {extends: {file: other.yaml, service: base}}\n")
    messages = " | ".join(p.message for p in review.errors)
    assert "includes the local file other.yaml" in messages and "extends a service of the local file" in messages
