"""Kernel DNAT of published ports beside the userland proxy (Docker's ``userland-proxy: true``), end to end.

Everything happens inside a stand-in host (as in ``test_outbound_nat``): a child joins a throwaway ``host``
namespace - forwarding, bridges, the nft table and the iptables chains are all per namespace, so IPv6
forwarding can be on there without touching the real host - and runs the real ``NetworkService``. A
``client`` namespace hangs off the stand-in host by a veth pair in a test subnet (198.51.100.0/24 and a ULA
/64). A listener in the container's sandbox answers every connection with the peer address it sees:

- the client dialling the host-side veth address (IPv4 and IPv6) is seen with its own address, not the
  gateway's (the kernel DNAT'd it; the proxy would show the gateway);
- the host's own dial to that (non-loopback) address is DNAT'd too (nat output); 127.0.0.1 and ::1 still go
  through the proxy, as does a port published on 127.0.0.1;
- hairpin: a container on the same network (left to the proxy) and one on another network (DNAT'd, let
  through our isolation rules by the forward accepts) both reach the port through their gateway;
- the rules carry our comment, survive a new service on the same data root (a daemon restart), come back when
  missing, and those of a container without a proxy go; after unpublish and removal nothing of ours is left;
- a UDP flow kept by a client (same source port) reaches the container the port is published for next: the
  old flow's conntrack entry is forgotten with the old rules, as Docker does;
- with IPv6 forwarding off, IPv6 gets no DNAT (the proxy serves it, as before) while IPv4 still does.

The same runs with the backend forced to iptables (the fallback for hosts without nftables).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest

from runtime.network.netns import NetnsStore
from runtime.network.portnat import PortRules, Forward
from runtime.network.iptables import IptablesFirewall
from runtime.network.nat import Firewall

from .conftest import spawn_in

pytestmark = pytest.mark.root

_ENGINE = r"""
import json, os, socket, sys, threading
from pyroute2 import IPRoute
from runtime.network.netns import netlink_in, run_in_netns
from runtime.network.ports import PortBinding
from runtime.network.service import NetworkService

root, run, client_ns, table, backend, ula = sys.argv[1:7]
with IPRoute() as ipr:
    ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
    fd = os.open(client_ns, os.O_RDONLY)
    ipr.link("add", ifname="cl0", kind="veth", peer={"ifname": "cl1", "net_ns_fd": fd})
    os.close(fd)
    idx = ipr.link_lookup(ifname="cl0")[0]
    ipr.addr("add", index=idx, address="198.51.100.1", prefixlen=24)
    ipr.addr("add", index=idx, address="fd5c:0:0:1::1", prefixlen=64, flags=0x02)  # IFA_F_NODAD
    ipr.link("set", index=idx, state="up")
with netlink_in(client_ns) as ns:
    ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
    idx = ns.link_lookup(ifname="cl1")[0]
    ns.addr("add", index=idx, address="198.51.100.2", prefixlen=24)
    ns.addr("add", index=idx, address="fd5c:0:0:1::2", prefixlen=64, flags=0x02)  # IFA_F_NODAD
    ns.link("set", index=idx, state="up")


def listener(sandbox):
    # made in the sandbox: the socket stays there whichever thread serves it
    def make():
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", 80))
        s.listen(16)
        return s
    s = run_in_netns(sandbox, make)

    def serve():
        while True:
            try:
                c, peer = s.accept()
            except OSError:
                return
            addr = peer[0][7:] if peer[0].startswith("::ffff:") else peer[0]
            c.sendall(addr.encode() + b"\n")
            c.close()
    threading.Thread(target=serve, daemon=True).start()
    return s


def dial(where, host, port):
    # the answer of the listener reached from namespace ``where`` (None: the stand-in host)
    def make():
        return socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    s = run_in_netns(where, make) if where else make()
    s.settimeout(3)
    try:
        s.connect((host, port))
        return s.makefile().readline().strip()
    except OSError as err:
        return "error: " + type(err).__name__
    finally:
        s.close()


def ours(svc):
    if backend == "iptables":
        import subprocess
        return [ln for tool in ("iptables-save", "ip6tables-save")
                for ln in subprocess.run([tool], capture_output=True, text=True).stdout.splitlines()
                if "pycompose" in ln or "PYC-" in ln]
    return svc.firewall.listing()


out = {}
svc = NetworkService(root, run, nft_table=table, enable_ip_forward=True, firewall_backend=backend)
web_net = svc.create("web", enable_ipv6=True, ipam={"Config": [{"Subnet": ula}]})
other_net = svc.create("other")
sandboxes, eps = {}, {}
for name, net in (("web", "web"), ("peer", "web"), ("far", "other")):
    cid = name[0] * 64
    sandboxes[name] = str(svc.create_sandbox(cid))
    eps[name] = svc.connect(net, cid, sandboxes[name], name=name)
web = "w" * 64
sock = listener(sandboxes["web"])
bound = svc.publish(web, [PortBinding(80), PortBinding(80, host_ip="127.0.0.1")])
port = next(b.host_port for b in bound if b.host_ip == "0.0.0.0")
loop_port = next(b.host_port for b in bound if b.host_ip == "127.0.0.1")
gw4, gw6 = str(web_net.pools[0].gateway), str(web_net.pool(6).gateway)
far_gw = str(other_net.pools[0].gateway)
out["gateways"] = [gw4, gw6]
out["bound"] = sorted(b.host_ip for b in bound)
out["rules"] = [str(r) for r in svc.firewall.port_rules_of(web)]
out["client4"] = dial(client_ns, "198.51.100.1", port)
out["client6"] = dial(client_ns, "fd5c:0:0:1::1", port)
out["host_own_address"] = dial(None, "198.51.100.1", port)
out["host_loopback4"] = dial(None, "127.0.0.1", port)
out["host_loopback6"] = dial(None, "::1", port)
out["loopback_port"] = dial(None, "127.0.0.1", loop_port)
out["client_to_loopback_port"] = dial(client_ns, "198.51.100.1", loop_port)
out["hairpin_same_net"] = dial(sandboxes["peer"], gw4, port)
out["hairpin_other_net"] = dial(sandboxes["far"], far_gw, port)

# a daemon restart: another service on the same data root adopts the proxy and its rules
svc2 = NetworkService(root, run, nft_table=table, enable_ip_forward=True, firewall_backend=backend)
svc2.restore()
out["after_restart"] = [sorted(svc2.firewall.port_owners()) == [web], dial(client_ns, "198.51.100.1", port)]
svc2.firewall.remove_ports(web)  # lost (a flushed table): restore puts them back
stray = "s" * 64  # rules of a container without a proxy: restore removes them
from runtime.network.portnat import Forward, PortRules
svc2.firewall.add_ports(PortRules(stray, web_net.bridge, (Forward("tcp", "", 9999, eps["web"].ip, 80),)))
svc2.restore()
out["restored"] = [sorted(svc2.firewall.port_owners()), dial(client_ns, "fd5c:0:0:1::1", port)]
svc2.publisher.close()

assert svc.unpublish(web)
out["after_unpublish"] = [[str(r) for r in svc.firewall.port_rules_of(web)], dial(client_ns, "198.51.100.1", port)]
# UDP: a client that keeps one flow (same source port) to a port published again for another container is
# DNAT'd to the new one: the old flow's conntrack entry went with the old rules
def udp_listener(sandbox, tag):
    def make():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", 5300))
        return s
    s = run_in_netns(sandbox, make)

    def serve():
        while True:
            try:
                data, peer = s.recvfrom(100)
                s.sendto(tag + b" " + peer[0].encode(), peer)
            except OSError:
                return
    threading.Thread(target=serve, daemon=True).start()
    return s

udp = [udp_listener(sandboxes["web"], b"web"), udp_listener(sandboxes["peer"], b"peer")]
flow = run_in_netns(client_ns, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
flow.bind(("198.51.100.2", 0))
flow.settimeout(3)

def ask(port):
    try:
        flow.sendto(b"?", ("198.51.100.1", port))
        return flow.recvfrom(100)[0].decode()
    except OSError as err:
        return "error: " + repr(err)

udp_port = svc.publish(web, [PortBinding(5300, "udp")])[0].host_port
out["udp"] = [ask(udp_port)]
svc.unpublish(web)
svc.publish("p" * 64, [PortBinding(5300, "udp", host_port=udp_port)])
out["udp"].append(ask(udp_port))
svc.unpublish("p" * 64)
for s in udp + [flow]:
    s.close()

# a host that does not forward IPv6: no IPv6 DNAT (its packets would be dropped), the proxy serves as before
with open("/proc/sys/net/ipv6/conf/all/forwarding", "w") as fh:
    fh.write("0")
port = next(b.host_port for b in svc.publish(web, [PortBinding(80)]) if b.host_ip == "::")
out["no_ipv6_forwarding"] = [dial(client_ns, "fd5c:0:0:1::1", port), dial(client_ns, "198.51.100.1", port)]
svc.unpublish(web)
sock.close()
for name in sandboxes:
    svc.destroy_sandbox(name[0] * 64)
svc.remove("web")
svc.remove("other")
svc.publisher.close()
out["left"] = ours(svc)
out["netns_left"] = svc.netns.list()
out["eps"] = {k: [e.ip, str(e.ipv6.ip) if e.ipv6 else ""] for k, e in eps.items()}
print(json.dumps(out))
"""


def _kill_proxies(root: Path) -> None:
    """Proxies a crashed child left: their records name pid and start time."""
    from runtime.network.publisher import process_start_time

    for rec in (root / "ports").glob("*.json"):
        raw = json.loads(rec.read_text())
        if process_start_time(raw["pid"]) == raw["start_time"]:
            os.kill(raw["pid"], signal.SIGKILL)


@pytest.mark.parametrize("backend", ["nftables", "iptables"])
def test_published_port_keeps_the_client_address(tmp_path: Path, backend: str):
    if backend == "iptables" and not (shutil.which("iptables-save") and shutil.which("ip6tables")):
        pytest.skip("iptables is not installed (scripts/run-tests.sh installs it)")
    store = NetnsStore(tmp_path / "world")
    host, client = store.create("host"), store.create("client")
    table = "pct" + os.urandom(3).hex()
    ula = f"fd{os.urandom(1).hex()}:{os.urandom(2).hex()}:{os.urandom(2).hex()}::/64"
    repo = Path(__file__).resolve().parents[3]
    try:
        proc = spawn_in(str(host), [sys.executable, "-c", _ENGINE, str(tmp_path / "root"), str(tmp_path / "run"),
                                    str(client), table, backend, ula], cwd=str(repo))
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        got = json.loads(out.decode().strip().splitlines()[-1])
    finally:
        _kill_proxies(tmp_path / "root")
        for run in (store, NetnsStore(tmp_path / "run")):
            for name in run.list():
                run.delete(name)
    gw4, gw6 = got["gateways"]
    assert got["bound"] == ["0.0.0.0", "127.0.0.1", "::"], got
    assert got["rules"], got
    assert got["client4"] == "198.51.100.2", got  # the client's own address: kernel DNAT, not the proxy
    assert got["client6"] == "fd5c:0:0:1::2", got
    assert got["host_own_address"] == "198.51.100.1", got  # nat output: the host's address, not the gateway
    assert got["host_loopback4"] == gw4 and got["loopback_port"] == gw4, got  # 127.0.0.1: the proxy
    assert got["host_loopback6"] == gw6, got
    assert got["client_to_loopback_port"].startswith("error"), got  # published on 127.0.0.1 only
    assert got["hairpin_same_net"] == gw4, got  # own bridge: left to the proxy
    assert got["hairpin_other_net"] == gw4, got  # DNAT'd across our bridges (masqueraded, as Docker)
    assert got["after_restart"] == [True, "198.51.100.2"], got
    assert got["restored"] == [["w" * 64], "fd5c:0:0:1::2"], got
    assert got["after_unpublish"] == [[], "error: ConnectionRefusedError"], got
    assert got["no_ipv6_forwarding"] == [gw6, "198.51.100.2"], got
    assert got["udp"] == ["web 198.51.100.2", "peer 198.51.100.2"], got  # the flow follows the new rules
    assert got["left"] == [] and got["netns_left"] == [], got


def test_nft_rules_rendered_for_each_family():
    rules = PortRules("c" * 64, "br-x", (Forward("tcp", "", 8080, "172.18.0.2", 80),
                                          Forward("udp", "fd00::1", 53, "fd00::2", 53)))
    text = Firewall("t").render_ports(rules)
    c = f'comment "pycompose:port:{"c" * 64}"'
    assert ('add rule inet t prerouting meta nfproto ipv4 tcp dport 8080 iifname != "br-x" fib daddr type local '
            f'dnat ip to 172.18.0.2:80 {c}') in text
    assert ('add rule inet t output meta nfproto ipv4 tcp dport 8080 ip daddr != 127.0.0.0/8 fib daddr type local '
            f'dnat ip to 172.18.0.2:80 {c}') in text
    assert ('add rule inet t prerouting meta nfproto ipv6 ip6 daddr fd00::1 udp dport 53 iifname != "br-x" '
            f'fib daddr type local dnat ip6 to [fd00::2]:53 {c}') in text
    assert f'insert rule inet t forward oifname "br-x" ip daddr 172.18.0.2 tcp dport 80 ct status dnat accept {c}' \
        in text
    assert Firewall("t").render_ports(PortRules("c", "br-x", ())) == ""


def test_iptables_rules_rendered_like_dockers():
    fw = IptablesFirewall("t")
    rules = fw.render_ports(PortRules("c", "br-x", (Forward("tcp", "", 8080, "172.18.0.2", 80),
                                                    Forward("tcp", "", 8080, "fd00::2", 80))))
    c = ["-m", "comment", "--comment", "pycompose:port:c"]
    assert (4, "nat", "PYC-t-DNAT", ["-p", "tcp", "!", "-i", "br-x", "-m", "tcp", "--dport", "8080", *c,
                                     "-j", "DNAT", "--to-destination", "172.18.0.2:80"]) in rules
    assert (6, "nat", "PYC-t-DNAT", ["-p", "tcp", "!", "-i", "br-x", "-m", "tcp", "--dport", "8080", *c,
                                     "-j", "DNAT", "--to-destination", "[fd00::2]:80"]) in rules
    assert (4, "filter", "PYC-t-FWD", ["-o", "br-x", "-d", "172.18.0.2", "-p", "tcp", "-m", "tcp", "--dport", "80",
                                       "-m", "conntrack", "--ctstate", "DNAT", *c, "-j", "ACCEPT"]) in rules
    jumps = fw._dnat_jumps(4)  # noqa: SLF001
    assert jumps[1] == ("OUTPUT", ["!", "-d", "127.0.0.0/8", "-m", "addrtype", "--dst-type", "LOCAL",
                                   "-m", "comment", "--comment", "pycompose:t", "-j", "PYC-t-DNAT"])

