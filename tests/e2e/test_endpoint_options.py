"""End to end against our engine: ``interface_name`` and ``link_local_ips`` of a service's networks and an
IPv6-only network (``enable_ipv4: false``), checked from inside the containers; bad values are one-line errors
with file:line:col."""
from __future__ import annotations

import ipaddress

import pytest

from tests.e2e.test_up_down import engine, project  # noqa: F401

pytestmark = pytest.mark.root


def _sh(container, script: str) -> str:
    result = container.exec_run(["sh", "-c", script])
    assert result.exit_code == 0, result.output
    return result.output.decode()


def test_interface_names_and_link_local_ips(project):  # noqa: F811
    project.write("""
services:
  app:
    image: busybox:local
    command: ["sleep", "600"]
    networks:
      front:
        interface_name: lan0
        link_local_ips: [169.254.44.4]
      back:
        interface_name: wan0
networks:
  front: {}
  back: {}
""")
    project.compose("up", "-d")
    app = project.container("app")
    links = _sh(app, "ip -o link | cut -d: -f2 | cut -d@ -f1").split()
    assert "lan0" in links and "wan0" in links and "eth0" not in links, links
    assert "inet 169.254.44.4/16" in _sh(app, "ip -o addr show lan0")
    nets = app.attrs["NetworkSettings"]["Networks"]
    front = nets[f"{project.name}_front"]
    assert front["DriverOpts"] == {"com.docker.network.endpoint.ifname": "lan0"}
    assert front["IPAMConfig"]["LinkLocalIPs"] == ["169.254.44.4"]
    assert f"inet {front['IPAddress']}/" in _sh(app, "ip -o addr show lan0")
    assert f"inet {nets[f'{project.name}_back']['IPAddress']}/" in _sh(app, "ip -o addr show wan0")
    # unchanged config: up again leaves the container alone
    project.compose("up", "-d")
    assert project.container("app").id == app.id


def test_ipv6_only_network_resolves_aaaa(project):  # noqa: F811
    project.write("""
services:
  web:
    image: busybox:local
    command: ["sleep", "600"]
    networks: [v6]
  probe:
    image: busybox:local
    command: ["sleep", "600"]
    networks: [v6]
networks:
  v6:
    enable_ipv4: false
    enable_ipv6: true
""")
    project.compose("up", "-d")
    net = project.engine.client().api.inspect_network(f"{project.name}_v6")
    assert net["EnableIPv4"] is False and net["EnableIPv6"] is True
    web = project.container("web")
    settings = web.attrs["NetworkSettings"]["Networks"][f"{project.name}_v6"]
    assert settings["IPAddress"] == "" and settings["GlobalIPv6Address"]
    assert "inet " not in _sh(web, "ip -o addr show eth0")
    address = str(ipaddress.ip_address(settings["GlobalIPv6Address"]))
    answer = _sh(project.container("probe"), "nslookup -type=AAAA web 127.0.0.11")
    assert address in answer, answer
    _sh(project.container("probe"), f"ping -6 -c 1 -W 2 {address}")


def test_bad_interface_name_and_ipv4_less_network_are_one_line_errors(project):  # noqa: F811
    project.write("""
services:
  app:
    image: busybox:local
    networks:
      n:
        interface_name: "no/slashes"
networks:
  n:
    enable_ipv4: false
""")
    result = project.compose("up", "-d", check=False)
    assert result.code == 1
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert any("compose.yaml:8:9: " in line and "services.app.networks.n.interface_name: invalid interface name "
               "'no/slashes'" in line for line in lines), result.err
    assert any("compose.yaml:11:5: " in line and "networks.n.enable_ipv4: IPv4 or IPv6 must be enabled" in line
               for line in lines), result.err
    assert project.containers() == []
