"""Outbound NAT end to end, inside a stand-in host: nothing of it touches the real host.

The test makes two network namespaces: ``host`` (where an engine runs, as if it were the machine) and
``internet`` (one server at 198.51.100.2, TEST-NET-2). A child process joins ``host`` and runs the real
``NetworkService`` there with host-wide forwarding enabled - ``ip_forward``, the bridge, the nft table are
all per namespace - then dials the server from a container sandbox. The server answers with the address it
saw: the host's uplink address when masquerading works. With ``enable_ip_masquerade=false`` the same dial
fails (the internet has no route back to the container's subnet), which shows the rule does the work.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.network.netns import NetnsStore

from .conftest import spawn_in

pytestmark = pytest.mark.root

_SERVER = """
import socket
s = socket.socket()
s.bind(("0.0.0.0", 8000))
s.listen(16)
print("ready", flush=True)
while True:
    c, peer = s.accept()
    c.sendall(peer[0].encode())
    c.close()
"""

_ENGINE = """
import json, os, socket, sys
from pyroute2 import IPRoute
from runtime.network.netns import netlink_in, run_in_netns
from runtime.network.service import NetworkService

root, run, internet, table, masquerade = sys.argv[1:6]
with IPRoute() as ipr:
    ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
    fd = os.open(internet, os.O_RDONLY)
    ipr.link("add", ifname="up0", kind="veth", peer={"ifname": "up1", "net_ns_fd": fd})
    os.close(fd)
    up = ipr.link_lookup(ifname="up0")[0]
    ipr.addr("add", index=up, address="198.51.100.1", prefixlen=24)
    ipr.link("set", index=up, state="up")
    ipr.route("add", dst="default", gateway="198.51.100.2")
with netlink_in(internet) as ns:
    up = ns.link_lookup(ifname="up1")[0]
    ns.addr("add", index=up, address="198.51.100.2", prefixlen=24)
    ns.link("set", index=up, state="up")

svc = NetworkService(root, run, nft_table=table, enable_ip_forward=True)
net = svc.create("out", options={"com.docker.network.bridge.enable_ip_masquerade": masquerade})
cid = "a" * 64
sandbox = str(svc.create_sandbox(cid))
ep = svc.connect("out", cid, sandbox)

def dial():
    try:
        with socket.create_connection(("198.51.100.2", 8000), timeout=3) as s:
            return s.recv(100).decode()
    except OSError as err:
        return "error: " + str(err)

seen = run_in_netns(sandbox, dial)
forward = open("/proc/sys/net/ipv4/ip_forward").read().strip()
svc.destroy_sandbox(cid)
svc.remove("out")
print(json.dumps({"seen": seen, "container": ep.ip, "ip_forward": forward,
                  "table_left": svc.firewall.listing(), "netns_left": svc.netns.list()}))
"""


@pytest.fixture
def world(tmp_path: Path):
    store = NetnsStore(tmp_path / "world")
    host, internet = store.create("host"), store.create("internet")
    server = spawn_in(str(internet), [sys.executable, "-c", _SERVER])
    try:
        assert server.stdout is not None and server.stdout.readline() == b"ready\n"
        yield tmp_path, str(host), str(internet)
    finally:
        server.kill()
        server.communicate()
        for run in [store, *(NetnsStore(d) for d in tmp_path.glob("run-*"))]:  # sandboxes of a crashed child too
            for name in run.list():
                run.delete(name)


def _engine(tmp_path: Path, host: str, internet: str, masquerade: str) -> dict:
    repo = Path(__file__).resolve().parents[3]
    proc = spawn_in(host, [sys.executable, "-c", _ENGINE, str(tmp_path / f"root-{masquerade}"),
                           str(tmp_path / f"run-{masquerade}"), internet, "pctnat", masquerade], cwd=str(repo))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    return json.loads(out.decode().strip().splitlines()[-1])


def test_outbound_traffic_is_masqueraded_and_forwarding_enabled(world):
    tmp_path, host, internet = world
    with open("/proc/sys/net/ipv4/ip_forward") as fh:
        real_host_forwarding = fh.read()
    got = _engine(tmp_path, host, internet, "true")
    assert got["seen"] == "198.51.100.1", got  # the server saw the host's address, not the container's
    assert got["ip_forward"] == "1"  # enabled host-wide, inside the stand-in host only
    assert got["table_left"] == [] and got["netns_left"] == []
    with open("/proc/sys/net/ipv4/ip_forward") as fh:
        assert fh.read() == real_host_forwarding


def test_without_masquerade_the_internet_cannot_answer(world):
    tmp_path, host, internet = world
    got = _engine(tmp_path, host, internet, "false")
    assert got["seen"].startswith("error"), got
    assert got["table_left"] == []
