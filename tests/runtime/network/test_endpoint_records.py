"""The on-disk layout of endpoints: one small record each beside the network record, which a connect never
rewrites; records of an older engine moved out on load; torn records skipped; IPAM's round-robin position kept
across an engine restart; an engine SIGKILLed right after a connect re-adopts the endpoint."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from pyroute2 import IPRoute

from runtime.network.service import NetworkService

pytestmark = pytest.mark.root

_REPO = Path(__file__).resolve().parents[3]


def _again(net) -> NetworkService:
    return NetworkService(net.svc.root, net.svc.run_dir, nft_table=net.svc.firewall.table,
                          default_bridge_name=net.svc.default_bridge_name, enable_ip_forward=False)


def _link_exists(name: str) -> bool:
    with IPRoute() as ipr:
        return bool(ipr.link_lookup(ifname=name))


def test_a_record_per_endpoint_and_the_network_record_is_not_rewritten(net):
    n = net.create()
    record = net.svc.root / "networks" / f"{n.id}.json"
    folder = net.svc.root / "networks" / n.id / "endpoints"
    before = os.stat(record)
    sandboxes = [net.sandbox() for _ in range(3)]
    eps = [net.svc.connect(n.name, cid, ns, name=f"c{i}") for i, (cid, ns) in enumerate(sandboxes)]
    after = os.stat(record)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns), \
        "a connect must not rewrite the network record"
    assert "endpoints" not in json.loads(record.read_text())
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{cid}.json" for cid, _ in sandboxes)
    assert json.loads((folder / f"{eps[1].container_id}.json").read_text())["ipv4"] == str(eps[1].ipv4)
    net.svc.disconnect(n.name, eps[1].container_id)
    assert not (folder / f"{eps[1].container_id}.json").exists()
    assert os.stat(record).st_mtime_ns == before.st_mtime_ns
    # a new engine over the same root sees the same endpoints and the same allocations
    again = _again(net)
    got = again.get(n.name)
    assert set(got.endpoints) == {eps[0].container_id, eps[2].container_id}
    assert got.endpoints[eps[2].container_id] == eps[2]
    assert got.pool(4).allocated == {eps[0].ipv4.ip, eps[2].ipv4.ip}
    for cid, _ in sandboxes:
        net.svc.destroy_sandbox(cid)
    net.svc.remove(n.name)
    assert not record.exists() and not (net.svc.root / "networks" / n.id).exists()


def test_round_robin_position_survives_a_restart(net):
    n = net.create()
    (a, ans), (b, bns), (c, cns) = net.sandbox(), net.sandbox(), net.sandbox()
    first = net.svc.connect(n.name, a, ans)
    second = net.svc.connect(n.name, b, bns)
    net.svc.destroy_sandbox(b)  # the latest pick is freed: it must not come back at once
    again = _again(net)
    third = again.connect(n.name, c, cns)
    assert int(third.ipv4.ip) == int(second.ipv4.ip) + 1 and third.ipv4.ip != first.ipv4.ip
    # the static address does not move the position
    d, dns = net.sandbox()
    static = str(third.ipv4.ip + 5)
    assert again.connect(n.name, d, dns, ipv4_address=static).ip == static
    e, ens = net.sandbox()
    assert int(_again(net).connect(n.name, e, ens).ipv4.ip) == int(third.ipv4.ip) + 1
    for cid in (a, c, d, e):
        again.destroy_sandbox(cid)
    assert again.reaper.drain(30)
    net.svc._networks[n.id] = again.get(n.id)  # noqa: SLF001 - the fixture removes through the first instance


def test_records_of_an_older_engine_are_moved_out_on_load(net):
    n = net.create()
    cid, ns = net.sandbox()
    ep = net.svc.connect(n.name, cid, ns, name="old")
    # rewrite the state as an older engine kept it: endpoints (and allocations) inside the network record
    record = net.svc.root / "networks" / f"{n.id}.json"
    raw = json.loads(record.read_text())
    raw["endpoints"] = {cid: ep.to_state()}
    raw["pools"][0]["allocated"] = [ep.ip]
    record.write_text(json.dumps(raw))
    for path in (net.svc.root / "networks" / n.id).rglob("*"):
        if path.is_file():
            path.unlink()
    again = _again(net)
    again.restore()
    assert again.get(n.name).endpoints == {cid: ep}
    assert _link_exists(ep.host_veth), "a migrated endpoint is live: restore keeps its veth"
    assert "endpoints" not in json.loads(record.read_text())
    moved = net.svc.root / "networks" / n.id / "endpoints" / f"{cid}.json"
    assert json.loads(moved.read_text())["host_veth"] == ep.host_veth
    other, ons = net.sandbox()
    assert again.connect(n.name, other, ons).ip != ep.ip  # the old allocation is still held
    again.destroy_sandbox(other)
    again.destroy_sandbox(cid)
    assert again.reaper.drain(30)
    net.svc._networks[n.id] = again.get(n.id)  # noqa: SLF001


def test_torn_records_are_skipped_and_removed(net):
    n = net.create()
    cid, ns = net.sandbox()
    ep = net.svc.connect(n.name, cid, ns)
    folder = net.svc.root / "networks" / n.id / "endpoints"
    torn = folder / ("e" * 64 + ".json")
    torn.write_bytes(b"")  # what a power cut may leave of a record that was never fsynced
    wrong = folder / ("d" * 64 + ".json")
    wrong.write_text(json.dumps({**ep.to_state(), "container_id": "x"}))  # names another container
    half = folder / f".{'c' * 64}.json.1.2.tmp"
    half.write_text("{")
    again = _again(net)
    assert set(again.get(n.name).endpoints) == {cid}
    assert not torn.exists() and not wrong.exists() and not half.exists()
    (net.svc.root / "networks" / n.id / "cursor.log").write_bytes(b'{"4":"' + ep.ip.encode() + b'"}\n{"4":"10.')
    assert _again(net).get(n.name).pool(4).allocated == {ep.ipv4.ip}


_CHILD = """
import sys
from runtime.network.service import NetworkService
root, run, table, bridge, net, cid, ns = sys.argv[1:]
svc = NetworkService(root, run, nft_table=table, default_bridge_name=bridge, enable_ip_forward=False)
ep = svc.connect(net, cid, ns, name="survivor")
print(ep.host_veth, ep.ip, flush=True)
sys.stdin.read()  # killed here, right after the connect returned
"""


def test_an_engine_killed_right_after_a_connect_readopts_the_endpoint(net):
    n = net.create()
    cid, ns = net.sandbox()
    svc = net.svc
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(svc.root), str(svc.run_dir), svc.firewall.table,
                              svc.default_bridge_name, n.id, cid, ns], cwd=_REPO, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = child.stdout.readline().decode().split()
        assert len(line) == 2, child.stderr.read().decode() if child.poll() is not None else line
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate()
    host_veth, ip = line
    again = _again(net)
    again.restore()
    ep = again.get(n.name).endpoints[cid]
    assert (ep.host_veth, ep.ip, ep.name) == (host_veth, ip, "survivor")
    assert _link_exists(host_veth)
    other, ons = net.sandbox()
    assert again.connect(n.name, other, ons).ip != ip
    again.destroy_sandbox(other)
    again.destroy_sandbox(cid)
    assert again.reaper.drain(30) and not _link_exists(host_veth)
    net.svc._networks[n.id] = again.get(n.id)  # noqa: SLF001


def test_restore_deletes_veths_a_crash_left_cut_off(net):
    from runtime.network import endpoint as _veth
    from runtime.network import rtnl

    n = net.create()
    cid, ns = net.sandbox()
    ep = net.svc.connect(n.name, cid, ns)
    # an engine killed between cutting a veth off and deleting it: record gone, pair down, off the bridge
    net.svc.get(n.name).drop_endpoint(cid)
    (net.svc.root / "networks" / n.id / "endpoints" / f"{cid}.json").unlink()
    retired = _veth.retire_veth(ep.host_veth, sandbox=ns, ifname=ep.ifname)
    assert retired is not None and retired.startswith("pcx") and not _link_exists(ep.host_veth)
    # a pcx-named veth that is up is not a retired one: restore leaves it alone
    up_name = "pcx" + os.urandom(6).hex()
    fd = os.open(ns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with rtnl.Rtnl() as host:
            host.call(rtnl.new_veth(up_name, "eth7", fd))
    finally:
        os.close(fd)
    try:
        again = _again(net)
        again.restore()
        assert again.reaper.drain(30)
        assert not _link_exists(retired) and _link_exists(up_name)
    finally:
        with rtnl.Rtnl() as host:
            host.exchange([rtnl.del_link(up_name)])
    assert again.get(n.name).endpoints == {}
    net.svc._networks[n.id] = again.get(n.id)  # noqa: SLF001
