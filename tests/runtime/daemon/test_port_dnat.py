"""Published ports through the engine keep the client's address (kernel DNAT beside the proxy, as Docker).

A ``client`` netns hangs off the host by a veth pair (host side named with the daemon's prefix) in a /30 of
198.18.0.0/15 (chosen at random) that no host route or address overlaps. A container runs ``nc -ll -p 80 -e
cat``; the client connects to the host-side veth address on the published port and, while the connection is
open, ``netstat -tn`` inside the container shows the client's address as the peer (through the proxy it would
be the bridge gateway). The DNAT rules are in our table while the container runs, survive a SIGKILLed and
restarted daemon (and still serve), and are gone once the container is removed. IPv6 and the iptables backend are covered in
``tests/runtime/network/test_port_dnat.py`` (a stand-in host, where IPv6 forwarding may be turned on).
"""
from __future__ import annotations

import ipaddress
import os
import secrets
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyroute2 import IPRoute

from runtime.network.ipam import host_networks
from runtime.network.nat import Firewall
from runtime.network.netns import NetnsStore, netlink_in, run_in_netns
from tests.runtime.daemon.conftest import start_daemon, wait_for

pytestmark = pytest.mark.root


def _free_slash30() -> ipaddress.IPv4Network:
    """A random /30 of 198.18.0.0/15 (so runs at the same time do not pick the same one) overlapping nothing."""
    taken = [n for n in host_networks() if n.version == 4]
    for _ in range(64):
        net = ipaddress.ip_network("198.18.0.0/15").network_address + 4 * secrets.randbelow(1 << 15)
        candidate = ipaddress.ip_network(f"{net}/30")
        if not any(candidate.overlaps(t) for t in taken):
            return candidate
    pytest.skip("no free /30 in 198.18.0.0/15")


@pytest.fixture
def client(engine, tmp_path: Path) -> Iterator[dict]:
    """The client netns, its veth pair to the host and both addresses; all removed afterwards."""
    if Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() != "1":
        pytest.skip("IPv4 forwarding is off on this host (the test does not turn it on)")
    store = NetnsStore(tmp_path / "world")
    ns = str(store.create("client"))
    net = _free_slash30()
    host_ip, client_ip = (str(a) for a in list(net.hosts())[:2])
    name = f"{engine.prefix}c0"
    try:
        with IPRoute() as ipr:
            fd = os.open(ns, os.O_RDONLY)
            try:
                ipr.link("add", ifname=name, kind="veth", peer={"ifname": "c1", "net_ns_fd": fd})
            finally:
                os.close(fd)
            idx = ipr.link_lookup(ifname=name)[0]
            ipr.addr("add", index=idx, address=host_ip, prefixlen=30)
            ipr.link("set", index=idx, state="up")
        with netlink_in(ns) as nl:
            idx = nl.link_lookup(ifname="c1")[0]
            nl.addr("add", index=idx, address=client_ip, prefixlen=30)
            nl.link("set", index=idx, state="up")
        yield {"ns": ns, "host_ip": host_ip, "client_ip": client_ip}
    finally:
        with IPRoute() as ipr:
            if ipr.link_lookup(ifname=name):
                ipr.link("del", ifname=name)
        store.delete("client")


def _connect(ns: str, host: str, port: int) -> socket.socket | None:
    """A connection from the client netns (the socket is made there), or None while nothing answers."""
    sock = run_in_netns(ns, lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    sock.settimeout(5)
    try:
        sock.connect((host, port))
        sock.sendall(b"ping\n")
        if sock.recv(5) == b"ping\n":  # cat echoes: nc accepted and runs it
            return sock
    except OSError:
        pass
    sock.close()
    return None


def _peers(engine, name: str, port: int = 80) -> list[str]:
    """The remote addresses of established connections to ``port`` seen inside the container."""
    out = engine.cli("exec", name, "netstat", "-tn").stdout
    return [f[4].rsplit(":", 1)[0].removeprefix("::ffff:") for f in (line.split() for line in out.splitlines())
            if len(f) >= 6 and f[5] == "ESTABLISHED" and f[3].endswith(f":{port}")]


def test_an_outside_client_keeps_its_address(engine, client):
    engine.cli("run", "-d", "--name", "dn", "-p", "80", "busybox", "nc", "-ll", "-p", "80", "-e", "cat")
    api = engine.client().api
    info = api.inspect_container("dn")
    cid = info["Id"]
    port = int(next(b["HostPort"] for b in info["NetworkSettings"]["Ports"]["80/tcp"] if b["HostIp"] == "0.0.0.0"))
    gateway = info["NetworkSettings"]["Gateway"]
    fw = Firewall(engine.prefix)
    assert fw.port_rules_of(cid), fw.listing()

    conn = wait_for(lambda: _connect(client["ns"], client["host_ip"], port), what="nc in the container")
    try:
        peers = _peers(engine, "dn")
        assert client["client_ip"] in peers and gateway not in peers, peers
    finally:
        conn.close()

    engine.kill(signal.SIGKILL)  # a daemon restart: the rules stay and are adopted with the proxy
    engine.proc = start_daemon(engine.root.parent).proc
    assert fw.port_owners() == {cid}
    conn = wait_for(lambda: _connect(client["ns"], client["host_ip"], port), what="the port after a restart")
    try:
        assert client["client_ip"] in _peers(engine, "dn")
    finally:
        conn.close()

    engine.cli("rm", "-f", "dn")
    assert fw.port_rules_of(cid) == [] and fw.port_owners() == set(), fw.listing()
