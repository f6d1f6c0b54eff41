"""``pycompose publish`` and ``-f oci://`` / ``include: oci://`` against a real registry (Debian's
``docker-registry``, started per test on 127.0.0.1, with and without htpasswd auth)."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import requests

from tests.compose._cli import pycompose
from tests.registry.conftest import PASSWORD, USER
from tests.registry.conftest import registry_factory  # noqa: F401 - the fixture, used by name below
from tests.registry.test_tls import tls_registry  # noqa: F401 - the fixture, used by name below
from tests.registry.test_token_auth import PASSWORD as TOKEN_PASSWORD
from tests.registry.test_token_auth import SERVICE
from tests.registry.test_token_auth import USER as TOKEN_USER
from tests.registry.test_token_auth import token_registry  # noqa: F401 - the fixture, used by name below

MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {"PYCOMPOSE_CACHE_DIR": str(tmp_path / "cache"), "DOCKER_CONFIG": str(tmp_path / "docker-config")}


def _project(root: Path, name: str, files: dict[str, str]) -> Path:
    d = root / name
    d.mkdir()
    for fname, text in files.items():
        (d / fname).write_text(text)
    return d


def _manifest(reg, repo: str, tag: str) -> dict:
    resp = requests.get(f"http://{reg.host}/v2/{repo}/manifests/{tag}", headers={"Accept": MANIFEST}, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


APP = "services:\n  web:\n    image: busybox:local\n    command: [sh, -c, 'echo ${GREETING:-hi}']\n"
OVERRIDE = "services:\n  web:\n    labels: {tier: front}\n"


def test_publish_then_config_from_oci_round_trip(registry_factory, tmp_path, env):  # noqa: F811
    reg = registry_factory()
    src = _project(tmp_path, "src", {"compose.yaml": APP, "compose.override.yaml": OVERRIDE})
    out = pycompose("publish", f"{reg.host}/pc/app:1", cwd=src, env=env)
    assert out.code == 0, out.err
    assert out.out.startswith(f"Published oci://{reg.host}/pc/app:1@sha256:")

    manifest = _manifest(reg, "pc/app", "1")
    assert manifest["artifactType"] == "application/vnd.docker.compose.project"
    assert [(layer["mediaType"], layer["annotations"]["com.docker.compose.file"]) for layer in manifest["layers"]] \
        == [("application/vnd.docker.compose.file+yaml", "compose.yaml"),
            ("application/vnd.docker.compose.file+yaml", "compose.override.yaml")]
    assert all("com.docker.compose.version" in layer["annotations"] for layer in manifest["layers"])

    consumer = _project(tmp_path, "consumer", {})
    local = pycompose("config", "--format", "json", cwd=src, env=env)
    remote = pycompose("-f", f"oci://{reg.host}/pc/app:1", "config", "--format", "json", cwd=consumer,
                       env={**env, "GREETING": "hello"})
    assert remote.code == 0, remote.err
    got, want = json.loads(remote.out), json.loads(local.out)
    assert got["services"]["web"]["labels"] == {"tier": "front"}  # both files, merged in order
    assert got["services"]["web"]["command"] == ["sh", "-c", "echo hello"]  # interpolated on the consumer side
    assert want["services"]["web"]["command"] == ["sh", "-c", "echo hi"]
    cached = list((tmp_path / "cache" / "oci").iterdir())
    assert len(cached) == 1 and (cached[0] / "compose.yaml").read_text() == APP
    # as in Docker Compose, the artifact's cache directory is the project directory (no name: -> its name)
    assert got["name"] == cached[0].name == out.out.strip().rsplit(":", 1)[1]
    here = pycompose("-f", f"oci://{reg.host}/pc/app:1", "--project-directory", ".", "config", "--format", "json",
                     cwd=consumer, env=env)
    assert json.loads(here.out)["name"] == "consumer", here.err  # unless --project-directory says otherwise


def test_oci_1_0_publish_is_loaded_too(registry_factory, tmp_path, env):  # noqa: F811
    reg = registry_factory()
    src = _project(tmp_path, "src", {"compose.yaml": APP})
    assert pycompose("publish", "--oci-version", "1.0", f"{reg.host}/pc/old:1", cwd=src, env=env).code == 0
    manifest = _manifest(reg, "pc/old", "1")
    assert "artifactType" not in manifest
    assert manifest["config"]["mediaType"] == "application/vnd.docker.compose.config.empty.v1+json"
    out = pycompose("-f", f"oci://{reg.host}/pc/old:1", "config", "--services", cwd=tmp_path, env=env)
    assert out.code == 0 and out.out.split() == ["web"], out.err


def test_include_oci_with_env_file_published_with_env(registry_factory, tmp_path, env):  # noqa: F811
    reg = registry_factory()
    src = _project(tmp_path, "src", {"compose.yaml": "services:\n  db:\n    image: busybox:local\n"
                                                     "    env_file: conf/db.env\n"})
    (src / "conf").mkdir()
    (src / "conf" / "db.env").write_text("DB_USER=alice\n")
    refused = pycompose("publish", f"{reg.host}/pc/db:1", cwd=src, env=env)
    assert refused.code == 1 and "--with-env" in refused.err and "db" in refused.err
    assert requests.get(f"http://{reg.host}/v2/pc/db/tags/list", timeout=10).status_code == 404  # nothing pushed

    assert pycompose("publish", "--with-env", f"{reg.host}/pc/db:1", cwd=src, env=env).code == 0
    layer = _manifest(reg, "pc/db", "1")["layers"][1]
    assert layer["mediaType"] == "application/vnd.docker.compose.envfile"
    assert layer["annotations"]["com.docker.compose.envfile"] == "conf/db.env"

    direct = pycompose("-f", f"oci://{reg.host}/pc/db:1", "config", "--format", "json", cwd=tmp_path, env=env)
    assert direct.code == 0, direct.err  # the env file landed in the cache directory, the project directory
    assert json.loads(direct.out)["services"]["db"]["environment"] == {"DB_USER": "alice"}

    app = _project(tmp_path, "app", {"compose.yaml": f"include:\n  - oci://{reg.host}/pc/db:1\n"
                                                     "services:\n  web: {image: busybox:local, depends_on: [db]}\n"})
    out = pycompose("config", "--format", "json", cwd=app, env=env)
    assert out.code == 0, out.err
    services = json.loads(out.out)["services"]
    assert set(services) == {"db", "web"}
    # the included artifact's project directory is its cache directory, where its env file landed
    assert services["db"]["environment"] == {"DB_USER": "alice"}


def test_bind_mounts_need_yes_and_build_only_is_refused(registry_factory, tmp_path, env):  # noqa: F811
    reg = registry_factory()
    src = _project(tmp_path, "src", {"compose.yaml": "services:\n  a:\n    image: busybox:local\n"
                                                     "    volumes: ['./data:/data']\n"})
    out = pycompose("publish", f"{reg.host}/pc/bind:1", cwd=src, env=env, stdin="")
    assert out.code == 1 and "bind mount" in out.err and "-y/--yes" in out.err, out.err
    assert "Traceback" not in out.err
    assert pycompose("publish", "-y", f"{reg.host}/pc/bind:1", cwd=src, env=env).code == 0

    build = _project(tmp_path, "build", {"compose.yaml": "services:\n  a: {image: busybox:local}\n"
                                                         "  b: {build: ., profiles: [dev]}\n"})
    out = pycompose("publish", "-y", f"{reg.host}/pc/build:1", cwd=build, env=env)  # inactive profiles too
    assert out.code == 1 and "service(s) b only build their image" in out.err, out.err
    assert requests.get(f"http://{reg.host}/v2/pc/build/tags/list", timeout=10).status_code == 404


def test_corrupt_layer_is_refused_and_nothing_is_cached(registry_factory, tmp_path, env):  # noqa: F811
    reg = registry_factory()
    src = _project(tmp_path, "src", {"compose.yaml": APP})
    assert pycompose("publish", f"{reg.host}/pc/app:1", cwd=src, env=env).code == 0
    layer = _manifest(reg, "pc/app", "1")["layers"][0]
    blob = reg.blob_data("pc/app", layer["digest"])
    blob.write_text(APP.replace("echo", "ECHO"))  # same size, other bytes
    out = pycompose("-f", f"oci://{reg.host}/pc/app:1", "config", cwd=tmp_path, env=env)
    assert out.code == 1
    assert f"oci://{reg.host}/pc/app:1: layer compose.yaml digest mismatch" in out.err, out.err
    blob.write_text(APP.replace("echo", "rm -rf /; echo"))  # longer: the download stops at the declared size
    out = pycompose("-f", f"oci://{reg.host}/pc/app:1", "config", cwd=tmp_path, env=env)
    assert out.code == 1 and "larger than the" in out.err, out.err
    cache = tmp_path / "cache" / "oci"
    assert not cache.exists() or list(cache.iterdir()) == []


def test_pinned_digest_checked_then_served_from_the_cache(registry_factory, tmp_path, env):  # noqa: F811
    reg = registry_factory()
    src = _project(tmp_path, "src", {"compose.yaml": APP})
    published = pycompose("publish", f"{reg.host}/pc/app:1", cwd=src, env=env)
    digest = published.out.strip().rsplit("@", 1)[1]
    other = "sha256:" + ("0" if digest[7] != "0" else "1") + digest[8:]
    wrong = pycompose("-f", f"oci://{reg.host}/pc/app@{other}", "config", cwd=tmp_path, env=env)
    assert wrong.code == 1 and f"pc/app@{other}" in wrong.err and "manifest" in wrong.err, wrong.err
    ok = pycompose("-f", f"oci://{reg.host}/pc/app@{digest}", "config", "--services", cwd=tmp_path, env=env)
    assert ok.code == 0 and ok.out.split() == ["web"], ok.err
    reg.process.terminate()
    reg.process.wait(timeout=10)
    again = pycompose("-f", f"oci://{reg.host}/pc/app@{digest}", "config", "--services", cwd=tmp_path, env=env)
    assert again.code == 0 and again.out.split() == ["web"], again.err  # no registry needed any more
    by_tag = pycompose("-f", f"oci://{reg.host}/pc/app:1", "config", cwd=tmp_path, env=env)
    assert by_tag.code == 1 and "cannot reach the registry" in by_tag.err


def test_an_image_is_not_a_compose_application(registry_factory, tmp_path, env):  # noqa: F811
    reg = registry_factory()
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    digest = "sha256:" + __import__("hashlib").sha256(config).hexdigest()
    start = requests.post(f"http://{reg.host}/v2/pc/img/blobs/uploads/", timeout=10)
    location = start.headers["Location"]
    sep = "&" if "?" in location else "?"
    assert requests.put(f"{location}{sep}digest={digest}", data=config, timeout=10).status_code == 201
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST, "layers": [],
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest,
                           "size": len(config)}}
    put = requests.put(f"http://{reg.host}/v2/pc/img/manifests/1", data=json.dumps(manifest),
                       headers={"Content-Type": MANIFEST}, timeout=10)
    assert put.status_code == 201, put.text
    out = pycompose("-f", f"oci://{reg.host}/pc/img:1", "config", cwd=tmp_path, env=env)
    assert out.code == 1 and "not a Compose application" in out.err, out.err
    missing = pycompose("-f", f"oci://{reg.host}/pc/nothing:1", "config", cwd=tmp_path, env=env)
    assert missing.code == 1 and "404" in missing.err and "pc/nothing:1" in missing.err, missing.err


def test_resolve_image_digests_pins_images_in_an_extra_file(registry_factory, tmp_path, env):  # noqa: F811
    reg = registry_factory()
    base = _project(tmp_path, "base", {"compose.yaml": APP})
    image_digest = pycompose("publish", f"{reg.host}/pc/base:2", cwd=base, env=env).out.strip().rsplit("@", 1)[1]
    src = _project(tmp_path, "src", {"compose.yaml": f"services:\n  web:\n    image: {reg.host}/pc/base:2\n"})
    out = pycompose("publish", "--resolve-image-digests", f"{reg.host}/pc/pinned:1", cwd=src, env=env)
    assert out.code == 0, out.err
    names = [layer["annotations"]["com.docker.compose.file"] for layer in _manifest(reg, "pc/pinned", "1")["layers"]]
    assert names == ["compose.yaml", "image-digests.yaml"]
    got = pycompose("-f", f"oci://{reg.host}/pc/pinned:1", "config", "--format", "json", cwd=tmp_path, env=env)
    assert json.loads(got.out)["services"]["web"]["image"] == f"{reg.host}/pc/base:2@{image_digest}"


def test_auth_registry_uses_stored_credentials(registry_factory, tmp_path, env):  # noqa: F811
    reg = registry_factory(auth=True)
    src = _project(tmp_path, "src", {"compose.yaml": APP})
    denied = pycompose("publish", f"{reg.host}/pc/app:1", cwd=src, env=env)
    assert denied.code == 1 and "pycompose login" in denied.err, denied.err
    config = Path(env["DOCKER_CONFIG"]) / "config.json"
    config.parent.mkdir()
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    config.write_text(json.dumps({"auths": {reg.host: {"auth": token}}}))
    assert pycompose("publish", f"{reg.host}/pc/app:1", cwd=src, env=env).code == 0
    out = pycompose("-f", f"oci://{reg.host}/pc/app:1", "config", "--services", cwd=tmp_path, env=env)
    assert out.code == 0 and out.out.split() == ["web"], out.err
    config.write_text(json.dumps({"auths": {reg.host: {"auth": base64.b64encode(b"pcuser:wrong").decode()}}}))
    bad = pycompose("-f", f"oci://{reg.host}/pc/app:1", "config", cwd=tmp_path, env=env)
    assert bad.code == 1 and "401" in bad.err and f"oci://{reg.host}/pc/app:1" in bad.err, bad.err


def test_bearer_token_registry(token_registry, tmp_path, env):  # noqa: F811
    reg, tokens = token_registry
    src = _project(tmp_path, "src", {"compose.yaml": APP})
    anonymous = pycompose("publish", f"{reg.host}/pc/tok:1", cwd=src, env=env)  # anonymous tokens carry pull only
    assert anonymous.code == 1 and "401" in anonymous.err and "pycompose login" in anonymous.err, anonymous.err
    config = Path(env["DOCKER_CONFIG"]) / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"auths": {reg.host: {"auth": base64.b64encode(
        f"{TOKEN_USER}:{TOKEN_PASSWORD}".encode()).decode()}}}))
    tokens.requests.clear()
    assert pycompose("publish", f"{reg.host}/pc/tok:1", cwd=src, env=env).code == 0
    assert {"user": TOKEN_USER, "scopes": ["repository:pc/tok:pull,push"], "service": [SERVICE]} in tokens.requests
    config.unlink()  # pulling needs no login: the token server grants pull to everyone
    out = pycompose("-f", f"oci://{reg.host}/pc/tok:1", "config", "--services", cwd=tmp_path, env=env)
    assert out.code == 0 and out.out.split() == ["web"], out.err


def _push_raw(reg, repo: str, layers: list) -> None:
    """An artifact made by hand (as another tool, or an attacker, could publish it)."""
    from compose.oci.artifact import build_manifest
    from compose.oci.client import RegistryClient
    from compose.oci.reference import parse_reference

    body, config = build_manifest(layers, "1.1", {})
    with RegistryClient(parse_reference(f"{reg.host}/{repo}:1"), push=True, environ={}) as client:
        for blob in [config, *layers]:
            client.put_blob(blob.digest, blob.data)
        client.put_manifest("1", body, MANIFEST)


def test_docker_style_extends_layer_is_written_not_merged(registry_factory, tmp_path, env):  # noqa: F811
    from compose.oci.artifact import COMPOSE_FILE_MEDIA_TYPE, Blob

    reg = registry_factory()
    hashed = "f8" * 32
    _push_raw(reg, "pc/ext", [
        Blob(COMPOSE_FILE_MEDIA_TYPE, f"services:\n  web:\n    extends: {{file: {hashed}, service: base}}\n".encode(),
             {"com.docker.compose.file": "compose.yaml"}),
        Blob(COMPOSE_FILE_MEDIA_TYPE, b"services:\n  base: {image: busybox:local}\n  other: {image: x}\n",
             {"com.docker.compose.file": hashed, "com.docker.compose.extends": "true"}),
    ])
    app = _project(tmp_path, "app", {"compose.yaml": f"include: [oci://{reg.host}/pc/ext:1]\n"})
    out = pycompose("config", "--format", "json", cwd=app, env=env)
    assert out.code == 0, out.err
    assert json.loads(out.out)["services"] == {"web": {"image": "busybox:local", "networks": {"default": None}}}


@pytest.mark.parametrize("evil", ["../../escape.env", "/tmp/escape.env", ".compose-files"])
def test_a_layer_path_outside_the_cache_is_refused(registry_factory, tmp_path, env, evil):  # noqa: F811
    from compose.oci.artifact import COMPOSE_FILE_MEDIA_TYPE, ENVFILE_MEDIA_TYPE, Blob

    reg = registry_factory()
    _push_raw(reg, "pc/evil", [
        Blob(COMPOSE_FILE_MEDIA_TYPE, APP.encode(), {"com.docker.compose.file": "compose.yaml"}),
        Blob(ENVFILE_MEDIA_TYPE, b"PWNED=1\n", {"com.docker.compose.envfile": evil}),
    ])
    before = set(tmp_path.rglob("*"))
    out = pycompose("-f", f"oci://{reg.host}/pc/evil:1", "config", cwd=tmp_path, env=env)
    assert out.code == 1 and "outside its own directory" in out.err and evil in out.err, out.err
    assert not Path("/tmp/escape.env").exists()
    assert {p for p in set(tmp_path.rglob("*")) - before if "cache" in p.parts and p.is_file()} == set()


def _publish_on_a_terminal(args: list[str], cwd: Path, env: dict[str, str], answer: str):
    """Run publish with a pty as stdin (so it asks), the answer already typed."""
    import os
    import pty
    import subprocess

    from tests.compose._cli import PYCOMPOSE

    master, slave = pty.openpty()
    try:
        os.write(master, answer.encode())
        environ = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
        proc = subprocess.run([str(PYCOMPOSE), *args], cwd=cwd, env={**environ, **env}, stdin=slave,
                              capture_output=True, text=True, timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_a_terminal_is_asked_and_dry_run_pushes_nothing(registry_factory, tmp_path, env):  # noqa: F811
    reg = registry_factory()
    src = _project(tmp_path, "src", {"compose.yaml": "services:\n  a:\n    image: busybox:local\n"
                                                     "    volumes: ['/srv/data:/data']\n"})
    tags = f"http://{reg.host}/v2/pc/ask/tags/list"
    no = _publish_on_a_terminal(["publish", f"{reg.host}/pc/ask:1"], src, env, "n\n")
    assert no.returncode == 1 and "/srv/data -> /data" in no.stderr and "publish cancelled" in no.stderr
    assert requests.get(tags, timeout=10).status_code == 404

    dry = pycompose("--dry-run", "publish", "-y", f"{reg.host}/pc/ask:1", cwd=src, env=env)
    assert dry.code == 0 and "DRY-RUN MODE" in dry.err and "compose.yaml" in dry.err, dry.err
    assert requests.get(tags, timeout=10).status_code == 404

    yes = _publish_on_a_terminal(["publish", f"{reg.host}/pc/ask:1"], src, env, "y\n")
    assert yes.returncode == 0, yes.stderr
    assert requests.get(tags, timeout=10).json()["tags"] == ["1"]


def test_extends_a_service_of_a_published_file(registry_factory, tmp_path, env):  # noqa: F811
    reg = registry_factory()
    base = _project(tmp_path, "base", {"compose.yaml": "services:\n  base:\n    image: busybox:local\n"
                                                       "    labels: {from: artifact}\n"})
    assert pycompose("publish", f"{reg.host}/pc/base:1", cwd=base, env=env).code == 0
    app = _project(tmp_path, "app", {"compose.yaml": "services:\n  web:\n    extends:\n"
                                                     f"      file: oci://{reg.host}/pc/base:1\n"
                                                     "      service: base\n    command: [echo, hi]\n"})
    out = pycompose("config", "--format", "json", cwd=app, env=env)
    assert out.code == 0, out.err
    web = json.loads(out.out)["services"]["web"]
    assert web["labels"] == {"from": "artifact"} and web["command"] == ["echo", "hi"]
    missing = _project(tmp_path, "missing", {"compose.yaml": "services:\n  web:\n    extends:\n"
                                                             f"      file: oci://{reg.host}/pc/none:1\n"
                                                             "      service: base\n"})
    out = pycompose("config", cwd=missing, env=env)
    assert out.code == 1 and "compose.yaml:3:5: services.web.extends.file: oci://" in out.err, out.err
    assert "pc/none:1: cannot fetch the manifest" in out.err and "404" in out.err


def test_credentials_from_a_credential_helper(registry_factory, tmp_path, env):  # noqa: F811
    reg = registry_factory(auth=True)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    asked = tmp_path / "asked"
    helper = bindir / "docker-credential-pctest"
    helper.write_text(f"#!/bin/sh\n[ \"$1\" = get ] || exit 1\ncat > {asked}\n"
                      f"echo '{{\"ServerURL\":\"{reg.host}\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}'\n")
    helper.chmod(0o755)
    config = Path(env["DOCKER_CONFIG"]) / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"credsStore": "pctest"}))
    env = {**env, "PATH": f"{bindir}:/usr/bin:/bin"}
    src = _project(tmp_path, "src", {"compose.yaml": APP})
    out = pycompose("publish", f"{reg.host}/pc/helper:1", cwd=src, env=env)
    assert out.code == 0, out.err
    assert asked.read_text() == reg.host


def test_a_tls_loopback_registry(tls_registry, tmp_path, env):  # noqa: F811
    reg, _cert = tls_registry  # self-signed: loopback counts as insecure, so HTTPS goes unverified (as Docker)
    src = _project(tmp_path, "src", {"compose.yaml": APP})
    out = pycompose("publish", f"{reg.host}/pc/tls:1", cwd=src, env=env)
    assert out.code == 0 and "Warning" not in out.err, out.err
    got = pycompose("-f", f"oci://{reg.host}/pc/tls:1", "config", "--services", cwd=tmp_path, env=env)
    assert got.code == 0 and got.out.split() == ["web"], got.err
    strict = pycompose("-f", f"oci://{reg.host}/pc/tls:1", "config", cwd=tmp_path,
                       env={**env, "PYCOMPOSE_CACHE_DIR": str(tmp_path / "cache2"),
                            "PYCOMPOSE_CERTS_DIR": str(tmp_path / "no-certs")})
    assert strict.code == 0  # still insecure-by-loopback; a CA in certs.d makes it verify:
    certs = tmp_path / "certs.d" / reg.host
    certs.mkdir(parents=True)
    (certs / "ca.crt").write_text("not a certificate\n")
    bad_ca = pycompose("-f", f"oci://{reg.host}/pc/tls:1", "config", cwd=tmp_path,
                       env={**env, "PYCOMPOSE_CACHE_DIR": str(tmp_path / "cache3"),
                            "PYCOMPOSE_CERTS_DIR": str(tmp_path / "certs.d")})
    assert bad_ca.code == 1 and f"oci://{reg.host}/pc/tls:1: cannot reach the registry" in bad_ca.err, bad_ca.err
    (certs / "ca.crt").write_text(_cert.read_text())
    good_ca = pycompose("-f", f"oci://{reg.host}/pc/tls:1", "config", "--services", cwd=tmp_path,
                        env={**env, "PYCOMPOSE_CACHE_DIR": str(tmp_path / "cache4"),
                             "PYCOMPOSE_CERTS_DIR": str(tmp_path / "certs.d")})
    assert good_ca.code == 0 and good_ca.out.split() == ["web"], good_ca.err
