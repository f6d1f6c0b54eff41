"""IPv6 endpoints through the docker CLI, as Docker: a published port shows (``docker port``, inspect ``Ports``)
and answers on both 0.0.0.0 and [::], on a dual-stack and on an IPv6-only network; the container's /etc/hosts
has its IPv6 address line next to the standard IPv6 names. Each network has a random ULA /64."""
from __future__ import annotations

import ipaddress
import json
import secrets
import urllib.request

import pytest

from .conftest import wait_for
from tests.support.ipv6 import host_has_ipv6

pytestmark = pytest.mark.root

_IPV6_BASE = ("::1\tlocalhost ip6-localhost ip6-loopback", "fe00::0\tip6-localnet", "ff00::0\tip6-mcastprefix",
              "ff02::1\tip6-allnodes", "ff02::2\tip6-allrouters")


def _ula() -> str:
    return str(ipaddress.ip_network(f"fd{secrets.token_hex(1)}:{secrets.token_hex(2)}:{secrets.token_hex(2)}::/64"))


def _get(url: str) -> bytes:
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=5) as resp:
        return resp.read()


def _serves(url: str) -> bool:
    try:
        return _get(url) == b"<h1>busybox</h1>\n"
    except OSError:
        return False


@pytest.mark.parametrize("ipv4", [True, False], ids=["dual-stack", "ipv6-only"])
def test_published_port_and_hosts_file_of_an_ipv6_endpoint(engine, ipv4):
    if not host_has_ipv6():
        pytest.skip("the host has no IPv6 loopback")
    net, web = engine.prefix + "p6", engine.prefix + "p6web"
    engine.cli("network", "create", "--ipv6", "--subnet", _ula(), *([] if ipv4 else ["--ipv4=false"]), net)
    try:
        engine.cli("run", "-d", "--name", web, "--hostname", "web6", "--network", net, "-p", "80",
                   "busybox", "httpd", "-f", "-p", "80", "-h", "/var/www")
        lines = sorted(engine.cli("port", web, "80/tcp").stdout.split())
        port = lines[0].rsplit(":", 1)[1]
        assert lines == sorted([f"0.0.0.0:{port}", f"[::]:{port}"]), lines
        body = json.loads(engine.cli("inspect", web).stdout)[0]
        assert body["NetworkSettings"]["Ports"]["80/tcp"] == [{"HostIp": "0.0.0.0", "HostPort": port},
                                                              {"HostIp": "::", "HostPort": port}]
        wait_for(lambda: _serves(f"http://[::1]:{port}/"), what="httpd through [::1]")
        assert _get(f"http://127.0.0.1:{port}/") == b"<h1>busybox</h1>\n"

        settings = body["NetworkSettings"]["Networks"][net]
        v6 = settings["GlobalIPv6Address"]
        assert v6 and bool(settings["IPAddress"]) == ipv4
        hosts = engine.cli("exec", web, "cat", "/etc/hosts").stdout.splitlines()
        assert f"{v6}\tweb6" in hosts, hosts
        assert (f"{settings['IPAddress']}\tweb6" in hosts) == ipv4, hosts
        assert all(line in hosts for line in _IPV6_BASE), hosts
        if ipv4:  # Docker's order: the IPv4 line, then the IPv6 one
            assert hosts.index(f"{settings['IPAddress']}\tweb6") < hosts.index(f"{v6}\tweb6")
    finally:
        engine.cli("rm", "-f", web, check=False)
        engine.cli("network", "rm", net, check=False)


def test_explicit_ipv6_host_address_binds_only_it(engine):
    if not host_has_ipv6():
        pytest.skip("the host has no IPv6 loopback")
    net, web = engine.prefix + "x6", engine.prefix + "x6web"
    engine.cli("network", "create", "--ipv6", "--subnet", _ula(), net)
    try:
        engine.cli("run", "-d", "--name", web, "--network", net, "-p", "[::1]::80",
                   "busybox", "httpd", "-f", "-p", "80", "-h", "/var/www")
        (line,) = engine.cli("port", web, "80/tcp").stdout.split()
        assert line.startswith("[::1]:"), line
        port = line.rsplit(":", 1)[1]
        wait_for(lambda: _serves(f"http://[::1]:{port}/"), what="httpd through [::1]")
        assert not _serves(f"http://127.0.0.1:{port}/")
    finally:
        engine.cli("rm", "-f", web, check=False)
        engine.cli("network", "rm", net, check=False)
