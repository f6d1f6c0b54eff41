"""A registry serving TLS only (self-signed certificate for 127.0.0.1): insecure-by-default loopback goes over
unverified HTTPS; with loopback treated as secure, the certs.d CA makes it verify, and without it we refuse."""
from __future__ import annotations

import shutil
import subprocess

import pytest
import requests

from runtime.images import ImageStore
from runtime.images.registry import RegistryConfig, RegistryError, pull, push


@pytest.fixture
def tls_registry(registry_factory, tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    certs = tmp_path / "tls"
    certs.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(certs / "key.pem"), "-out", str(certs / "cert.pem"),
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    reg = registry_factory(extra_config=["  tls:", f"    certificate: {certs / 'cert.pem'}",
                                         f"    key: {certs / 'key.pem'}"], tls=True)
    return reg, certs / "cert.pem"


def test_tls_registry(tls_registry, busybox_tar, tmp_path):
    registry, cert = tls_registry
    assert requests.get(f"http://{registry.host}/v2/", timeout=5).status_code == 400  # speaks TLS only
    store = ImageStore(tmp_path / "images")
    ref = f"{registry.host}/pc/tls:1"
    image = store.import_rootfs(busybox_tar, ref)
    loose = RegistryConfig(auth_file=tmp_path / "c.json", certs_dir=None)
    digest = push(store, ref, config=loose)  # loopback is insecure: HTTPS without verification
    assert pull(ImageStore(tmp_path / "a"), ref, config=loose).id == image.id

    strict = RegistryConfig(auth_file=tmp_path / "c.json", certs_dir=tmp_path / "certs.d", loopback_insecure=False)
    with pytest.raises(RegistryError, match="(?i)certificate verify failed"):
        pull(ImageStore(tmp_path / "b"), ref, config=strict)
    (tmp_path / "certs.d" / registry.host).mkdir(parents=True)
    shutil.copy(cert, tmp_path / "certs.d" / registry.host / "ca.crt")
    pulled = pull(ImageStore(tmp_path / "c"), ref, config=strict)
    assert pulled.id == image.id and pulled.repo_digests == [f"{registry.host}/pc/tls@{digest}"]
