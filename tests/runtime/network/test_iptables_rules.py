"""The iptables backend: the rules it renders, and end to end inside a stand-in host (nothing on the real host).

As in ``test_outbound_nat``, a child joins a throwaway ``host`` namespace (iptables tables are per namespace)
with an ``internet`` namespace behind an uplink, and runs the real ``NetworkService`` with the backend forced to
iptables. It creates two non-internal networks and one internal network, then checks through ``iptables-save``
and real connections: masquerade out, isolation between our bridges, no way out of the internal network, and
after removal the ``iptables-save`` output is what it was before.
"""
from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.engine_config import parse_config
from runtime.errors import EngineError, InvalidArgument
from runtime.network import firewall
from runtime.network.firewall import make_firewall
from runtime.network.iptables import IptablesFirewall
from runtime.network.nat import BridgeRules, Firewall
from runtime.network.netns import NetnsStore

from .conftest import spawn_in

_NET = ipaddress.ip_network


def test_render_non_internal_network():
    fw = IptablesFirewall("pcttable")
    rules = fw.render(BridgeRules("abc", "br-abc", (_NET("172.18.0.0/16"), _NET("fd00:1::/64"))))
    c = ["-m", "comment", "--comment", "pycompose:abc"]
    assert (4, "filter", "PYC-pcttable-FWD", ["-i", "br-abc", "!", "-o", "br-abc", *c, "-j", "PYC-pcttable-ISO"]) in rules
    assert (4, "filter", "PYC-pcttable-ISO", ["-o", "br-abc", *c, "-j", "DROP"]) in rules
    assert (6, "filter", "PYC-pcttable-ISO", ["-o", "br-abc", *c, "-j", "DROP"]) in rules
    assert (4, "nat", "PYC-pcttable-POST", ["-s", "172.18.0.0/16", "!", "-o", "br-abc", *c, "-j", "MASQUERADE"]) in rules
    assert (6, "nat", "PYC-pcttable-POST", ["-s", "fd00:1::/64", "!", "-o", "br-abc", *c, "-j", "MASQUERADE"]) in rules


def test_render_internal_and_options():
    internal = IptablesFirewall("t").render(BridgeRules("i", "br-i", (_NET("10.1.0.0/24"),), internal=True))
    assert not any("MASQUERADE" in r[3] for r in internal)
    assert [r[3][:5] for r in internal if r[2] == "PYC-t-FWD"] == [["-i", "br-i", "!", "-o", "br-i"],
                                                                  ["-o", "br-i", "!", "-i", "br-i"]]
    opts = IptablesFirewall("t").render(BridgeRules("o", "br-o", (_NET("10.1.0.0/24"),), masquerade=False, icc=False))
    assert not any("MASQUERADE" in r[3] for r in opts)
    assert any(r[3][:4] == ["-i", "br-o", "-o", "br-o"] and r[3][-1] == "DROP" for r in opts)


def test_chain_names_fit_iptables_limit():
    fw = IptablesFirewall("a" * 32)
    assert max(len(fw.forward_chain), len(fw.isolation_chain), len(fw.postrouting_chain)) <= 28


def test_backend_choice_and_engine_config_key(monkeypatch):
    assert isinstance(make_firewall("iptables", "t"), IptablesFirewall)
    assert isinstance(make_firewall("nftables", "t"), Firewall)
    with pytest.raises(InvalidArgument):
        make_firewall("ipfw", "t")
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "nft" else f"/usr/sbin/{name}")
    monkeypatch.setattr(firewall, "library_available", lambda: True)
    assert isinstance(make_firewall(None, "t"), Firewall)  # libnftables without the nft command will do
    monkeypatch.setattr(firewall, "library_available", lambda: False)
    assert isinstance(make_firewall(None, "t"), IptablesFirewall)
    assert parse_config({"firewall-backend": "iptables"}).firewall_backend == "iptables"
    assert parse_config({}).firewall_backend is None
    with pytest.raises(Exception, match="firewall-backend"):
        parse_config({"firewall-backend": "pf"})


def test_missing_iptables_is_unsupported():
    from runtime.errors import Unsupported
    fw = IptablesFirewall("t", iptables="", ip6tables="")
    fw._bin = {4: None, 6: None}  # noqa: SLF001
    with pytest.raises(Unsupported, match="iptables"):
        fw.add(BridgeRules("x", "br-x", (_NET("10.1.0.0/24"),)))
    assert isinstance(Unsupported("x"), EngineError)


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
import json, os, socket, subprocess, sys
from pyroute2 import IPRoute
from runtime.network.netns import netlink_in, run_in_netns
from runtime.network.service import NetworkService

root, run, internet, table = sys.argv[1:5]
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

def save(tool="iptables-save"):
    return subprocess.run([tool], capture_output=True, text=True, check=True).stdout

def ours_dropped(text):  # the rules and user chains of iptables-save, without ours
    return [ln for ln in text.splitlines() if (ln.startswith("-A") or ln.startswith(":") and " - " in ln)
            and "pycompose:" not in ln and "PYC-" + table not in ln]

# someone else's rules and chain in the stand-in host: they must survive untouched
for args in (["-N", "OTHER"], ["-A", "FORWARD", "-s", "192.0.2.1", "-j", "OTHER"],
             ["-t", "nat", "-A", "POSTROUTING", "-s", "192.0.2.0/24", "-j", "RETURN"]):
    subprocess.run(["iptables", "-w", *args], check=True)
before = save()
svc = NetworkService(root, run, nft_table=table, enable_ip_forward=True, firewall_backend="iptables")
a = svc.create("a")
b = svc.create("b")
i = svc.create("i", internal=True)
sandboxes = {}
eps = {}
for name in ("a", "b", "i"):
    cid = name * 64
    sandboxes[name] = str(svc.create_sandbox(cid))
    eps[name] = svc.connect(name, cid, sandboxes[name]).ip

def dial(host, port, timeout=3.0):
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            return s.recv(100).decode()
    except OSError as err:
        return "error: " + type(err).__name__

during = save()
six = svc.create("six", enable_ipv6=True)
rules6 = save("ip6tables-save")
svc.remove("six")
out = {
    "rules": during,
    "a_out": run_in_netns(sandboxes["a"], lambda: dial("198.51.100.2", 8000)),
    "b_out": run_in_netns(sandboxes["b"], lambda: dial("198.51.100.2", 8000)),
    "i_out": run_in_netns(sandboxes["i"], lambda: dial("198.51.100.2", 8000, 1.5)),
    # nothing listens on port 9: a reachable container answers with a reset, a dropped packet times out
    "a_self_gw": run_in_netns(sandboxes["a"], lambda: dial(str(a.pools[0].gateway), 9, 1.5)),
    "b_to_a": run_in_netns(sandboxes["b"], lambda: dial(eps["a"], 9, 1.5)),
    "a_to_b": run_in_netns(sandboxes["a"], lambda: dial(eps["b"], 9, 1.5)),
    "networks": {n.name: n.id for n in (a, b, i)},
}
for name in ("a", "b", "i"):
    svc.destroy_sandbox(name * 64)
    svc.remove(name)
after = save()
out["rules6"] = rules6
out["six"] = [str(p.subnet) for p in six.pools if p.subnet.version == 6]
out["left6"] = [ln for ln in save("ip6tables-save").splitlines() if "pycompose:" in ln or "PYC-" + table in ln]
out["same_after"] = ours_dropped(before) == ours_dropped(after)
out["others"] = ours_dropped(after)
out["left"] = [ln for ln in after.splitlines() if "pycompose:" in ln or "PYC-" + table in ln]
print(json.dumps(out))
"""


@pytest.mark.root
def test_iptables_backend_end_to_end(tmp_path: Path):
    if not shutil.which("iptables-save"):
        pytest.skip("iptables is not installed (scripts/run-tests.sh installs it)")
    store = NetnsStore(tmp_path / "world")
    host, internet = store.create("host"), store.create("internet")
    server = spawn_in(str(internet), [sys.executable, "-c", _SERVER])
    table = "pct" + __import__("secrets").token_hex(3)
    try:
        assert server.stdout is not None and server.stdout.readline() == b"ready\n"
        repo = Path(__file__).resolve().parents[3]
        proc = spawn_in(str(host), [sys.executable, "-c", _ENGINE, str(tmp_path / "root"), str(tmp_path / "run"),
                                    str(internet), table], cwd=str(repo))
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        got = json.loads(out.decode().strip().splitlines()[-1])
    finally:
        server.kill()
        server.communicate()
        for run in (store, NetnsStore(tmp_path / "run")):
            for name in run.list():
                run.delete(name)
    rules = got["rules"]
    fwd, iso, post = f"PYC-{table}-FWD", f"PYC-{table}-ISO", f"PYC-{table}-POST"
    for chain in (fwd, iso, post):
        assert f":{chain} " in rules, rules
    assert f'-A FORWARD -m comment --comment "pycompose:{table}" -j {fwd}' in rules
    assert f'-A POSTROUTING -m comment --comment "pycompose:{table}" -j {post}' in rules
    assert rules.count(f"-j {fwd}") == 1 and rules.count(f"-j {post}") == 1
    for nid in got["networks"].values():
        assert f'"pycompose:{nid}"' in rules
    assert rules.count("MASQUERADE") == 2  # a and b, not the internal network
    assert got["a_out"] == "198.51.100.1" and got["b_out"] == "198.51.100.1", got  # masqueraded
    assert got["i_out"].startswith("error"), got  # internal: no way out
    assert got["a_self_gw"] == "error: ConnectionRefusedError", got  # a reset comes back when not dropped
    assert got["b_to_a"] == "error: TimeoutError" and got["a_to_b"] == "error: TimeoutError", got  # isolated
    assert got["left"] == [] and got["same_after"], got
    assert len(got["others"]) == 3, got
    v6 = got["six"][0]  # IPv6 through ip6tables: the same chains, masquerade of the v6 subnet
    assert f'-A POSTROUTING -m comment --comment "pycompose:{table}" -j {post}' in got["rules6"]
    assert f"-A {post} -s {v6} ! -o " in got["rules6"] and f"-j {iso}" in got["rules6"], got["rules6"]
    assert got["left6"] == [], got  # the foreign chain and two rules are still there
