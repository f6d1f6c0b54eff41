"""``network connect`` / ``disconnect`` of RUNNING containers through docker-py and the real docker CLI, as Docker
does it: the new address in the container's /etc/hosts (and out again), the embedded DNS names of both sides
coming and going at once, endpoint settings (static IPv4/IPv6, MAC, aliases, driver options) honoured as at
create, Docker's errors for bad or taken addresses, and no trace of the interface left in the container after a
disconnect. Upstream DNS is a stub on 127.0.0.x:53 (the engine's ``dns``), so nothing leaves the host."""
from __future__ import annotations

import ipaddress
import os
import random

import docker
import pytest

from tests.runtime.daemon.conftest import cleanup, start_daemon
from tests.runtime.dns.support import Stub

pytestmark = pytest.mark.root


@pytest.fixture
def stub():
    s = Stub({"outside.example": ["10.9.8.7"]}, port=53)
    for _ in range(5):  # a random 127.0.0.x; another test may hold port 53 on the one drawn
        try:
            s.start()
            break
        except OSError:
            continue
    else:
        pytest.skip("no free 127.0.0.x:53 for the upstream stub")
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def engine(tmp_path, busybox_tar, stub):
    """A daemon whose upstream DNS is the stub, with busybox imported."""
    if os.geteuid() != 0:
        pytest.skip("needs root (containers)")
    d = start_daemon(tmp_path / "engine", config={"dns": [stub.address[0]]})
    try:
        with open(busybox_tar, "rb") as fh:
            d.client().api.import_image_from_data(fh.read(), repository="busybox", tag="latest",
                                                  changes=['CMD ["sh"]'])
        yield d
    finally:
        cleanup(d)


def _subnets() -> tuple[str, str]:
    """Two /24s for the test's networks, unlikely to be used by a concurrent test (a taken one fails create)."""
    a = random.randint(0, 250)
    return f"10.213.{a}.0/24", f"fd{os.urandom(5).hex()[:2]}:{os.urandom(2).hex()}:{os.urandom(2).hex()}::/64"


def _exec(box, *cmd: str) -> tuple[int, str]:
    code, out = box.exec_run(list(cmd))
    return code, out.decode()


def _hosts(box) -> str:
    return _exec(box, "cat", "/etc/hosts")[1]


def _resolves(box, name: str) -> list[str]:
    """The addresses busybox nslookup gets for ``name`` through the container's resolv.conf ([] when none)."""
    code, out = _exec(box, "nslookup", name)
    if code != 0:
        return []
    lines = out.split("Name:", 1)[-1].splitlines() if "Name:" in out else []
    return [ln.split()[-1] for ln in lines if ln.strip().startswith("Address")]


def _links(box) -> list[str]:
    out = _exec(box, "ip", "-o", "link")[1]
    return [ln.split(":")[1].strip().split("@")[0] for ln in out.splitlines()]


def test_connect_running_updates_hosts_and_dns_at_once(engine):
    client = engine.client()
    v4, v6 = _subnets()
    first = client.networks.create(engine.prefix + "one")
    side = client.networks.create(engine.prefix + "two", enable_ipv6=True, ipam=docker.types.IPAMConfig(
        pool_configs=[docker.types.IPAMPool(subnet=v4), docker.types.IPAMPool(subnet=v6)]))
    box = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="box", network=first.name)
    peer = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="peer", network=side.name)
    try:
        hostname = box.attrs["Config"]["Hostname"]
        assert _resolves(box, "peer") == []  # not on a shared network yet
        ip4 = str(ipaddress.ip_network(v4)[77])
        ip6 = str(ipaddress.ip_network(v6)[0x77])
        side.connect(box, ipv4_address=ip4, ipv6_address=ip6, aliases=["alpha"], links=[("peer", "pp")],
                     driver_opt={"com.docker.network.endpoint.ifname": "side0"}, mac_address="02:42:ac:aa:bb:cc")
        # /etc/hosts: a line per new address naming the container, after what was there
        hosts = _hosts(box)
        assert f"{ip4}\t{hostname}\n" in hosts and f"{ip6}\t{hostname}\n" in hosts, hosts
        # every setting honoured as at create, in the kernel and in inspect
        out = _exec(box, "ip", "-o", "addr", "show", "side0")[1]
        assert f"{ip4}/24" in out and f"{ip6}/64" in out, out
        assert "02:42:ac:aa:bb:cc" in _exec(box, "ip", "link", "show", "side0")[1]
        box.reload()
        settings = box.attrs["NetworkSettings"]["Networks"][side.name]
        assert (settings["IPAddress"], settings["GlobalIPv6Address"], settings["MacAddress"]) == \
            (ip4, ip6, "02:42:ac:aa:bb:cc")
        assert settings["IPAMConfig"]["IPv4Address"] == ip4 and settings["IPAMConfig"]["IPv6Address"] == ip6
        assert "alpha" in settings["Aliases"] and settings["Links"] == ["peer:pp"]
        # DNS, both ways, at once: no wait between the connect and the queries
        peer_ip = client.api.inspect_container(peer.id)["NetworkSettings"]["Networks"][side.name]["IPAddress"]
        peer_ip6 = client.api.inspect_container(peer.id)["NetworkSettings"]["Networks"][side.name][
            "GlobalIPv6Address"]
        assert _resolves(box, "peer") == [peer_ip, peer_ip6]
        assert _resolves(box, "pp") == [peer_ip, peer_ip6] and _resolves(peer, "pp") == []  # the link is box's
        assert _resolves(peer, "alpha") == [ip4, ip6] and _resolves(peer, "box") == [ip4, ip6]
        assert _exec(box, "ping", "-c", "1", "-W", "10", "peer")[0] == 0
        assert _resolves(box, "outside.example") == ["10.9.8.7"]  # other names go to the upstream stub

        side.disconnect(box)
        hosts = _hosts(box)
        assert ip4 not in hosts and ip6 not in hosts, hosts
        assert _links(box) == ["lo", "eth0"]  # not even a retired interface left behind
        assert _resolves(peer, "alpha") == [] and _resolves(peer, "box") == []
        assert _resolves(box, "peer") == []
        assert _exec(box, "ping", "-c", "1", "-W", "1", peer_ip)[0] != 0
        # back again: the same address is free and the lines come back
        side.connect(box, ipv4_address=ip4)
        assert f"{ip4}\t{hostname}\n" in _hosts(box)
        assert _resolves(peer, "box")[0] == ip4
    finally:
        for c in (box, peer):
            c.remove(force=True)
        first.remove()
        side.remove()


def test_first_user_network_gives_a_default_bridge_container_the_embedded_dns(engine):
    client = engine.client()
    net = client.networks.create(engine.prefix + "late")
    box = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="loner")  # default bridge
    peer = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="buddy", network=net.name)
    try:
        assert "127.0.0.11" not in _exec(box, "cat", "/etc/resolv.conf")[1]
        net.connect(box)
        assert "nameserver 127.0.0.11" in _exec(box, "cat", "/etc/resolv.conf")[1]
        peer_ip = client.api.inspect_container(peer.id)["NetworkSettings"]["Networks"][net.name]["IPAddress"]
        assert _resolves(box, "buddy") == [peer_ip]
        assert _resolves(box, "outside.example") == ["10.9.8.7"]
    finally:
        for c in (box, peer):
            c.remove(force=True)
        net.remove()


def test_connect_address_errors_as_docker(engine):
    client = engine.client()
    v4, _ = _subnets()
    net = client.networks.create(engine.prefix + "ipam", ipam=docker.types.IPAMConfig(
        pool_configs=[docker.types.IPAMPool(subnet=v4)]))
    auto = client.networks.create(engine.prefix + "auto")
    box = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="one", network=net.name)
    other = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="two")
    created = client.containers.create("busybox", ["sleep", "1000"], name="three")
    taken = client.api.inspect_container(box.id)["NetworkSettings"]["Networks"][net.name]["IPAddress"]
    try:
        running, both = (other,), (other, created)
        cases = [
            (net, {"ipv4_address": "10.250.1.5"}, both, 400,
             "no configured subnet or ip-range contain the IP address 10.250.1.5"),
            (net, {"ipv4_address": "not-an-ip"}, both, 400, "invalid IPv4 address: not-an-ip"),
            (net, {"ipv6_address": "fd00::5"}, both, 400, "does not have IPv6 enabled"),
            (auto, {"ipv4_address": "10.250.1.5"}, both, 400, "user configured subnets"),
            (client.networks.get("bridge"), {"ipv4_address": "10.250.1.5"}, (box,), 400,
             "user defined networks only"),
            (net, {"ipv4_address": taken}, running, 409, "Address already in use"),
            (net, {"links": [("nobody", "x")]}, both, 404, "nobody"),
        ]
        for target, kwargs, containers, status, words in cases:
            for container in containers:
                with pytest.raises(docker.errors.APIError) as err:
                    client.api.connect_container_to_network(container.id, target.id, **kwargs)
                assert err.value.status_code == status and words in str(err.value), (kwargs, str(err.value))
                container.reload()
                assert target.name not in container.attrs["NetworkSettings"]["Networks"]
        # a created container: the settings are kept and applied at start
        good = str(ipaddress.ip_network(v4)[99])
        client.api.connect_container_to_network(created.id, net.id, ipv4_address=good, aliases=["later"],
                                                links=[("one", "first")])
        created.start()
        assert f"{good}\t" in _hosts(created)
        assert _resolves(box, "later") == [good]
        assert _resolves(created, "first") == [taken] and _resolves(box, "first") == []
    finally:
        for c in (box, other, created):
            c.remove(force=True)
        net.remove()
        auto.remove()


def test_cli_connect_disconnect_round_trip(engine):
    net = engine.prefix + "cli"
    v4, _ = _subnets()
    engine.cli("network", "create", "--subnet", v4, net)
    try:
        engine.cli("run", "-d", "--name", "web", "--network", net, "busybox", "httpd", "-f", "-p", "8080",
                   "-h", "/etc")
        engine.cli("run", "-d", "--name", "client", "busybox", "sleep", "1000")
        fetch = ("exec", "client", "wget", "-q", "-O", "-", "http://web:8080/hostname")  # (-T: busybox crashes)
        assert engine.cli(*fetch, check=False).returncode != 0
        fixed = str(ipaddress.ip_network(v4)[42])
        engine.cli("network", "connect", "--alias", "cl", "--ip", fixed, "--link", "web:www", net, "client")
        assert engine.cli(*fetch).stdout.strip() == \
            engine.cli("inspect", "-f", "{{.Config.Hostname}}", "web").stdout.strip()
        via_link = ("exec", "client", "wget", "-q", "-O", "-", "http://www:8080/hostname")
        assert engine.cli(*via_link).stdout == engine.cli(*fetch).stdout
        assert fixed in engine.cli("inspect", "-f", f"{{{{.NetworkSettings.Networks.{net}.IPAddress}}}}",
                                   "client").stdout
        assert f"{fixed}\t" in engine.cli("exec", "client", "cat", "/etc/hosts").stdout
        assert engine.cli("exec", "web", "ping", "-c", "1", "-W", "10", "cl").returncode == 0
        engine.cli("network", "disconnect", net, "client")
        assert engine.cli(*fetch, check=False).returncode != 0
        assert engine.cli(*via_link, check=False).returncode != 0
        assert engine.cli("exec", "web", "nslookup", "cl", check=False).returncode != 0
        assert f"{fixed}\t" not in engine.cli("exec", "client", "cat", "/etc/hosts").stdout
        links = engine.cli("exec", "client", "ip", "-o", "link").stdout
        assert "pcx" not in links and "eth1" not in links, links
        gone = engine.cli("network", "disconnect", net, "client", check=False)
        assert gone.returncode != 0 and "is not connected to network" in gone.stderr
    finally:
        engine.cli("rm", "-f", "web", "client", check=False)
        engine.cli("network", "rm", net, check=False)
