"""Bearer-token auth against the real registry: ``auth.token`` with a token server made here.

The token server (a thread on 127.0.0.1) checks basic credentials and issues RS256 JWTs signed with ``openssl``;
the registry verifies them against the certificate in its ``rootcertbundle``. This is the Docker Hub flow:
401 + ``WWW-Authenticate: Bearer realm=...,service=...,scope=...`` -> GET realm -> retry with the token.
"""
from __future__ import annotations

import base64
import json
import secrets
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from runtime.images import ImageStore
from runtime.images.registry import RegistryConfig, Unauthorized, login, pull, push

USER, PASSWORD = "tokuser", "tok-secret"
SERVICE, ISSUER = "pycompose-registry", "pycompose-test-issuer"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _TokenServer:
    def __init__(self, workdir: Path) -> None:
        self.key, self.cert = workdir / "key.pem", workdir / "cert.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.key),
                        "-out", str(self.cert), "-days", "1", "-subj", "/CN=pycompose-test-token"],
                       check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", str(self.cert), "-outform", "DER"], check=True,
                             capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                query = parse_qs(urlparse(self.path).query)
                user = None
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                    if (user, password) != (USER, PASSWORD):
                        self.send_response(401)
                        self.end_headers()
                        self.wfile.write(b'{"details":"incorrect username or password"}')
                        return
                scopes = query.get("scope", [])
                server.requests.append({"user": user, "scopes": scopes, "service": query.get("service")})
                body = json.dumps({"token": server.sign(user, scopes), "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def sign(self, user: str | None, scopes: list[str]) -> str:
        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":")
            granted = actions.split(",") if user else [a for a in actions.split(",") if a == "pull"]
            access.append({"type": kind, "name": name, "actions": granted})
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": user or "", "aud": SERVICE, "exp": now + 300, "nbf": now - 10, "iat": now,
                  "jti": secrets.token_hex(8), "access": access}
        head = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        signing_input = f"{_b64(json.dumps(head).encode())}.{_b64(json.dumps(claims).encode())}"
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)], input=signing_input.encode(),
                             check=True, capture_output=True).stdout
        return f"{signing_input}.{_b64(sig)}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def token_registry(registry_factory, tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    workdir = tmp_path / "token"
    workdir.mkdir()
    server = _TokenServer(workdir)
    try:
        reg = registry_factory(extra_config=[
            "auth:", "  token:", f"    realm: {server.url}", f"    service: {SERVICE}", f"    issuer: {ISSUER}",
            f"    rootcertbundle: {server.cert}"])
        yield reg, server
    finally:
        server.close()


def test_bearer_token_push_pull_and_login(token_registry, busybox_tar, tmp_path):
    registry, tokens = token_registry
    config = RegistryConfig(auth_file=tmp_path / "docker" / "config.json")
    challenge = requests.get(f"http://{registry.host}/v2/").headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and tokens.url in challenge

    store = ImageStore(tmp_path / "images")
    ref = f"{registry.host}/pc/tok:1"
    store.import_rootfs(busybox_tar, ref)
    with pytest.raises(Unauthorized):  # anonymous tokens carry pull only
        push(store, ref, config=config)
    with pytest.raises(Unauthorized, match="incorrect username or password"):
        login(registry.host, USER, "nope", config=config)
    assert login(registry.host, USER, PASSWORD, config=config) == "Login Succeeded"
    tokens.requests.clear()
    digest = push(store, ref, config=config)
    assert {"user": USER, "scopes": ["repository:pc/tok:pull,push"], "service": [SERVICE]} in tokens.requests
    fresh = ImageStore(tmp_path / "fresh")
    assert pull(fresh, ref, config=config).repo_digests == [f"{registry.host}/pc/tok@{digest}"]
    # anonymous pull also works (the token server grants pull to everyone)
    anon = ImageStore(tmp_path / "anon")
    assert pull(anon, ref, config=RegistryConfig(auth_file=tmp_path / "none.json")).id == store.resolve(ref).id
