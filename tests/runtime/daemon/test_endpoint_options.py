"""Endpoint options through the docker CLI and docker-py: the interface name driver option
(``com.docker.network.endpoint.ifname``) and ``LinkLocalIPs`` really applied in the container's netns and shown
by inspect; IPv6-only networks (``EnableIPv4: false``): no IPv4 address, names answer AAAA."""
from __future__ import annotations

import ipaddress
import json

import docker
import pytest

pytestmark = pytest.mark.root

IFNAME = "com.docker.network.endpoint.ifname"


def _links(engine, container: str) -> dict[str, list[str]]:
    """Interface name -> its addresses (``ip -o addr`` inside the container)."""
    out: dict[str, list[str]] = {}
    for line in engine.cli("exec", container, "ip", "-o", "link").stdout.splitlines():
        out[line.split(":")[1].strip().split("@")[0]] = []
    for line in engine.cli("exec", container, "ip", "-o", "addr").stdout.splitlines():
        fields = line.split()
        out.setdefault(fields[1], []).append(fields[3])
    return out


def _settings(engine, container: str, network: str) -> dict:
    body = json.loads(engine.cli("inspect", container).stdout)[0]
    return body["NetworkSettings"]["Networks"][network]


def test_interface_name_on_create_and_connect(engine):
    a, b = engine.prefix + "ifa", engine.prefix + "ifb"
    box = engine.prefix + "ifbox"
    engine.cli("network", "create", a)
    engine.cli("network", "create", b)
    try:
        engine.cli("run", "-d", "--name", box, "--network", f"name={a},driver-opt={IFNAME}=lan0",
                   "busybox", "sleep", "1000")
        engine.cli("network", "connect", "--driver-opt", f"{IFNAME}=wan7", b, box)
        links = _links(engine, box)
        assert "lan0" in links and "wan7" in links and "eth0" not in links, links
        assert any(addr.startswith(_settings(engine, box, a)["IPAddress"] + "/") for addr in links["lan0"])
        assert _settings(engine, box, a)["DriverOpts"] == {IFNAME: "lan0"}
        assert _settings(engine, box, b)["DriverOpts"] == {IFNAME: "wan7"}
        engine.cli("network", "disconnect", b, box)
        assert "wan7" not in _links(engine, box)
        # after a restart the interface gets the same name again
        engine.cli("restart", "-t", "0", box)
        assert "lan0" in _links(engine, box)
    finally:
        engine.cli("rm", "-f", box, check=False)
        engine.cli("network", "rm", a, b, check=False)


def test_bad_interface_name_is_a_400_naming_it(engine):
    net = engine.prefix + "ifbad"
    engine.cli("network", "create", net)
    api = engine.client().api
    try:
        for bad in ("x/y", "a" * 16, "two words"):
            with pytest.raises(docker.errors.APIError) as info:
                api.create_container("busybox", ["true"], networking_config=api.create_networking_config(
                    {net: api.create_endpoint_config(driver_opt={IFNAME: bad})}))
            assert info.value.status_code == 400 and IFNAME in str(info.value) and bad in str(info.value)
        with pytest.raises(docker.errors.APIError) as info:  # two networks may not ask for one name
            api.create_container("busybox", ["true"], networking_config={"EndpointsConfig": {
                net: {"DriverOpts": {IFNAME: "same"}}, "bridge": {"DriverOpts": {IFNAME: "same"}}}})
        assert info.value.status_code == 400 and "same" in str(info.value)
        box = api.create_container("busybox", ["sleep", "1000"], name=engine.prefix + "ifok")["Id"]
        with pytest.raises(docker.errors.APIError) as info:
            api.connect_container_to_network(box, net, driver_opt={IFNAME: "bad/name"})
        assert info.value.status_code == 400 and "bad/name" in str(info.value)
        assert api.containers(all=True, filters={"name": engine.prefix + "if"}) and \
            len(api.containers(all=True, filters={"name": engine.prefix + "if"})) == 1  # nothing half-made
    finally:
        engine.cli("rm", "-f", engine.prefix + "ifok", check=False)
        engine.cli("network", "rm", net, check=False)


def test_link_local_ips_are_added_to_the_interface(engine):
    net = engine.prefix + "ll"
    box = engine.prefix + "llbox"
    engine.cli("network", "create", net)
    try:
        engine.cli("run", "-d", "--name", box, "--network", net, "--link-local-ip", "169.254.77.5",
                   "--link-local-ip", "fe80::77:5", "busybox", "sleep", "1000")
        addrs = _links(engine, box)["eth0"]
        assert "169.254.77.5/16" in addrs and "fe80::77:5/64" in addrs, addrs
        assert _settings(engine, box, net)["IPAMConfig"]["LinkLocalIPs"] == ["169.254.77.5", "fe80::77:5"]
        engine.cli("network", "connect", "--link-local-ip", "169.254.78.6", "bridge", box)  # a running container
        assert "169.254.78.6/16" in _links(engine, box)["eth1"]
        assert _settings(engine, box, "bridge")["IPAMConfig"] == {"LinkLocalIPs": ["169.254.78.6"]}
        bad = engine.cli("run", "--rm", "--network", net, "--link-local-ip", "not-an-ip", "busybox", "true",
                         check=False)
        assert bad.returncode != 0 and "not-an-ip" in bad.stderr
    finally:
        engine.cli("rm", "-f", box, check=False)
        engine.cli("network", "rm", net, check=False)


def _create_v6_only(engine, name: str, enable_ipv6: bool = True) -> dict:
    api = engine.client().api
    res = api._post_json(api._url("/networks/create"),
                         data={"Name": name, "EnableIPv4": False, "EnableIPv6": enable_ipv6})
    return api._result(res, json=True)


def test_ipv6_only_network(engine):
    net = engine.prefix + "v6"
    web, probe = engine.prefix + "v6web", engine.prefix + "v6probe"
    with pytest.raises(docker.errors.APIError) as info:
        _create_v6_only(engine, net + "x", enable_ipv6=False)
    assert info.value.status_code == 400 and "IPv4 or IPv6 must be enabled" in str(info.value)
    refused = engine.cli("network", "create", "--ipv4=false", net + "y", check=False)
    assert refused.returncode != 0 and "IPv4 or IPv6 must be enabled" in refused.stderr
    engine.cli("network", "create", "--ipv4=false", "--ipv6", net)  # the docker CLI's way of asking
    try:
        body = engine.client().api.inspect_network(net)
        assert body["EnableIPv4"] is False and body["EnableIPv6"] is True
        enabled = {n: engine.client().api.inspect_network(n)["EnableIPv4"] for n in ("bridge", "host", "none")}
        assert enabled == {"bridge": True, "host": False, "none": False}  # as Docker shows them
        assert [ipaddress.ip_network(c["Subnet"]).version for c in body["IPAM"]["Config"]] == [6]
        for name in (web, probe):
            engine.cli("run", "-d", "--name", name, "--network", net, "busybox", "sleep", "1000")
        eth0 = _links(engine, web)["eth0"]
        assert not [a for a in eth0 if ipaddress.ip_interface(a).version == 4], eth0
        settings = _settings(engine, web, net)
        assert settings["IPAddress"] == "" and settings["GlobalIPv6Address"]
        assert any(a.startswith(settings["GlobalIPv6Address"] + "/") for a in eth0)
        route = engine.cli("exec", web, "ip", "-6", "route", "show", "default").stdout
        assert settings["IPv6Gateway"] in route
        # the embedded DNS answers the peer's AAAA, and the peer is reachable over IPv6
        answer = engine.cli("exec", probe, "nslookup", "-type=AAAA", web, "127.0.0.11").stdout
        assert str(ipaddress.ip_address(settings["GlobalIPv6Address"])) in answer, answer
        engine.cli("exec", probe, "ping", "-6", "-c", "1", "-W", "2", settings["GlobalIPv6Address"])
        bad = engine.cli("run", "--rm", "--network", net, "--ip", "172.30.9.9", "busybox", "true", check=False)
        assert bad.returncode != 0 and "IPv4" in bad.stderr
    finally:
        engine.cli("rm", "-f", web, probe, check=False)
        engine.cli("network", "rm", net, check=False)
