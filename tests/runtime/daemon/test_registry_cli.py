"""docker login / push / pull through our engine against a real registry on 127.0.0.1 (with htpasswd auth)."""
from __future__ import annotations

import pytest

from tests.registry.conftest import registry_factory  # noqa: F401 - the fixture, shared with the registry tests

pytestmark = pytest.mark.root


def test_login_push_pull_run(engine, registry_factory):  # noqa: F811
    reg = registry_factory(auth=True)
    ref = f"{reg.host}/team/busybox:1"
    engine.cli("tag", "busybox", ref)
    denied = engine.cli("push", ref, check=False)
    assert denied.returncode != 0 and ("unauthorized" in denied.stderr.lower() or "denied" in denied.stderr.lower())
    bad = engine.cli("login", "-u", reg.user, "--password-stdin", reg.host, input=b"wrong\n", check=False)
    assert bad.returncode != 0
    engine.cli("login", "-u", reg.user, "--password-stdin", reg.host, input=reg.password.encode() + b"\n")
    pushed = engine.cli("push", ref).stdout
    assert "digest: sha256:" in pushed
    engine.cli("rmi", ref)
    engine.cli("rmi", "busybox")
    assert engine.cli("images", "-q").stdout.strip() == ""
    engine.cli("pull", ref)
    assert engine.cli("run", "--rm", ref, "echo", "pulled").stdout == "pulled\n"
    missing = engine.cli("pull", f"{reg.host}/team/nothing:1", check=False)
    assert missing.returncode != 0
