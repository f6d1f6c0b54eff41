"""Credential files, challenges and the X-Registry-Auth header (pure functions; no network)."""
from __future__ import annotations

import base64
import json

import pytest

from runtime.errors import InvalidArgument
from runtime.images.registry import RegistryConfig, credentials_from_header, load_credentials, store_credentials
from runtime.images.registry.auth import Credentials, parse_challenge


def test_parse_challenges():
    c = parse_challenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                        'scope="repository:library/busybox:pull"')
    assert c.scheme == "bearer"
    assert c.params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                        "scope": "repository:library/busybox:pull"}
    assert parse_challenge('Basic realm="x"').scheme == "basic"
    assert parse_challenge("") is None


def test_credentials_file_round_trip_and_keys(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {
        "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:pw:with:colons").decode()},
        "http://reg.example:5000/v2/": {"username": "u", "password": "p"}},
        "psFormat": "x"}))
    assert load_credentials(path, "docker.io") == Credentials("hub", "pw:with:colons")
    assert load_credentials(path, "reg.example:5000") == Credentials("u", "p")
    assert load_credentials(path, "other.example") is None
    assert load_credentials(tmp_path / "missing.json", "docker.io") is None
    store_credentials(path, "reg.example:5000", Credentials("new", "secret"))
    data = json.loads(path.read_text())
    assert data["psFormat"] == "x" and "http://reg.example:5000/v2/" not in data["auths"]
    assert data["auths"]["reg.example:5000"] == {"auth": base64.b64encode(b"new:secret").decode()}
    assert path.stat().st_mode & 0o777 == 0o600
    assert "secret" not in repr(load_credentials(path, "reg.example:5000"))


def test_x_registry_auth_header():
    value = base64.urlsafe_b64encode(json.dumps({"username": "a", "password": "b",
                                                 "serveraddress": "localhost:5000"}).encode()).decode().rstrip("=")
    assert credentials_from_header(value) == Credentials("a", "b")
    assert credentials_from_header(base64.urlsafe_b64encode(b"{}").decode()) is None
    assert credentials_from_header("") is None
    with pytest.raises(InvalidArgument):
        credentials_from_header("!!!notbase64")


def test_insecure_and_endpoints():
    cfg = RegistryConfig(insecure=("10.1.0.0/16", "reg.lan:5000"), mirrors={"docker.io": ("https://mirror.example",)})
    assert cfg.is_insecure("localhost:5000") and cfg.is_insecure("127.0.0.1:5000") and cfg.is_insecure("[::1]:5000")
    assert cfg.is_insecure("10.1.2.3:5000") and cfg.is_insecure("reg.lan:5000")
    assert not cfg.is_insecure("10.2.0.1:5000") and not cfg.is_insecure("ghcr.io")
    assert [e.base_url for e in cfg.endpoints("docker.io")] == ["https://mirror.example", "https://registry-1.docker.io"]
    # insecure: HTTPS without certificate checks first, then plain HTTP (Docker's order)
    assert [(e.base_url, e.verify, e.fallback) for e in cfg.endpoints("localhost:5000")] == [
        ("https://localhost:5000", False, True), ("http://localhost:5000", True, False)]
    assert [(e.base_url, e.verify) for e in cfg.endpoints("ghcr.io")] == [("https://ghcr.io", True)]
    assert not RegistryConfig(loopback_insecure=False).is_insecure("127.0.0.1:5000")


def test_certs_d(tmp_path):
    (tmp_path / "reg.example:5000").mkdir()
    (tmp_path / "reg.example:5000/ca.crt").write_text("x")
    (tmp_path / "reg.example:5000/client.cert").write_text("x")
    (tmp_path / "reg.example:5000/client.key").write_text("x")
    (endpoint,) = RegistryConfig(certs_dir=tmp_path).endpoints("reg.example:5000")
    assert endpoint.verify == str(tmp_path / "reg.example:5000/ca.crt")
    assert endpoint.cert == (str(tmp_path / "reg.example:5000/client.cert"), str(tmp_path / "reg.example:5000/client.key"))


def test_config_from_daemon_options():
    cfg = RegistryConfig.coerce({"mirrors": ["https://m.example"], "insecure": ["reg.lan:5000"]})
    assert cfg.mirrors == {"docker.io": ("https://m.example",)} and cfg.is_insecure("reg.lan:5000")
    assert RegistryConfig.coerce(None) == RegistryConfig()
    assert RegistryConfig.coerce(cfg) is cfg


HELPER = """#!/usr/bin/env python3
import json, sys
from pathlib import Path
db = Path(__file__).with_suffix(".json")
data = json.loads(db.read_text()) if db.exists() else {}
if sys.argv[1] == "store":
    entry = json.load(sys.stdin)
    data[entry["ServerURL"]] = [entry["Username"], entry["Secret"]]
    db.write_text(json.dumps(data))
elif sys.argv[1] == "get":
    server = sys.stdin.read().strip()
    if server not in data:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps({"ServerURL": server, "Username": data[server][0], "Secret": data[server][1]}))
"""


def test_credential_helper_store_and_get(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helper = bindir / "docker-credential-pctest"
    helper.write_text(HELPER)
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{__import__('os').environ['PATH']}")
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"credsStore": "pctest", "credHelpers": {"other.example": "missing"}}))
    assert load_credentials(path, "reg.example:5000") is None  # the helper has nothing yet
    store_credentials(path, "reg.example:5000", Credentials("u", "s3cret"))
    assert json.loads(path.read_text())["auths"] == {"reg.example:5000": {}}  # no secret in the file
    assert json.loads((bindir / "docker-credential-pctest.json").read_text()) == {"reg.example:5000": ["u", "s3cret"]}
    assert load_credentials(path, "reg.example:5000") == Credentials("u", "s3cret")
    assert load_credentials(path, "other.example") is None  # its helper is not installed: anonymous
