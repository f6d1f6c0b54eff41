"""Bridge networks on the real kernel: create/inspect/remove, endpoints, routes, isolation, internal networks."""
from __future__ import annotations

import ipaddress
import socket
import subprocess
import sys

import pytest
from pyroute2 import IPRoute

from runtime.errors import Conflict, InvalidArgument, NotFound
from runtime.network.netns import netlink_in
from runtime.network.service import NetworkService

from .conftest import run_in

pytestmark = pytest.mark.root


def _link(name: str) -> dict | None:
    with IPRoute() as ipr:
        idx = ipr.link_lookup(ifname=name)
        if not idx:
            return None
        link = ipr.get_links(idx[0])[0]
        addrs = [f"{a.get('address')}/{a['prefixlen']}" for a in ipr.get_addr(index=idx[0])]
        return {"state": link.get("state"), "kind": link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND"),
                "addrs": addrs, "master": link.get("master")}


def _gone_or_cut_off(name: str) -> bool:
    link = _link(name)
    return link is None or (link["master"] in (None, 0) and link["state"] == "down")


def _ns_state(path: str) -> dict:
    with netlink_in(path) as ipr:
        links = {ln.get("ifname"): ln for ln in ipr.get_links()}
        addrs = {}
        for a in ipr.get_addr():
            name = next(n for n, ln in links.items() if ln["index"] == a["index"])
            addrs.setdefault(name, []).append(f"{a.get('address')}/{a['prefixlen']}")
        routes = [(r.get("dst") or "default", r["dst_len"], r.get("gateway"))
                  for r in ipr.get_routes(family=socket.AF_INET, table=254)]
        macs = {n: ln.get("address") for n, ln in links.items()}
        return {"links": sorted(links), "addrs": addrs, "routes": routes, "macs": macs}


def _nft_text(table: str) -> str:
    out = subprocess.run(["nft", "list", "table", "inet", table], capture_output=True, text=True, check=False)
    return out.stdout


def _ping(ns: str, ip: str) -> bool:
    """One echo answered (a generous bound: a reply late on a busy machine is no failure)."""
    return run_in(ns, ["busybox", "ping", "-c", "1", "-W", "10", ip]).returncode == 0


def _unreachable(ns: str, ip: str) -> bool:
    """No answer within a second (what a blocked path gives; a reachable one answers in a millisecond)."""
    return run_in(ns, ["busybox", "ping", "-c", "1", "-W", "1", ip]).returncode != 0


def test_create_makes_bridge_with_gateway_and_rules_and_remove_clears_them(net):
    n = net.create(labels={"com.example": "x"})
    link = _link(n.bridge)
    assert link is not None and link["kind"] == "bridge" and link["state"] == "up"
    pool = n.pools[0]
    assert f"{pool.gateway}/{pool.subnet.prefixlen}" in link["addrs"]
    table = _nft_text(net.svc.firewall.table)
    assert f'ip saddr {pool.subnet} oifname != "{n.bridge}" masquerade comment "pycompose:{n.id}"' in table
    assert f'iifname "{n.bridge}" oifname != "{n.bridge}" oifname @bridges drop' in table
    assert n.bridge in net.svc.firewall.bridges()
    with open(f"/proc/sys/net/ipv4/conf/{n.bridge}/forwarding") as fh:
        assert fh.read().strip() == "1"

    body = net.svc.inspect(n.name)
    assert body["Id"] == n.id and body["Driver"] == "bridge" and body["Scope"] == "local"
    assert body["IPAM"]["Config"] == [{"Subnet": str(pool.subnet), "Gateway": str(pool.gateway)}]
    assert body["Labels"] == {"com.example": "x"} and body["Containers"] == {}
    assert net.svc.get(n.id[:10]) is n

    net.svc.remove(n.name)
    assert _link(n.bridge) is None
    assert net.svc.firewall.rules_of(n.id) == []
    with pytest.raises(NotFound):
        net.svc.get(n.name)


def test_subnet_avoids_host_routes_and_other_networks(net):
    with IPRoute() as ipr:
        host = [ipaddress.ip_network(f"{r.get('dst')}/{r['dst_len']}") for r in ipr.get_routes(table=254)
                if r.get("dst")]
    a, b = net.create(), net.create()
    for n in (a, b):
        sub = n.pools[0].subnet
        assert not any(sub.overlaps(h) for h in host if h.version == 4 and str(h) != str(sub))
    assert not a.pools[0].subnet.overlaps(b.pools[0].subnet)


def test_explicit_ipam_static_address_and_mac(net):
    sub = _free_subnet(net)
    n = net.create(ipam={"config": [{"subnet": str(sub), "ip_range": str(list(sub.subnets(1))[1]),
                                     "gateway": str(sub.network_address + 254)}]})
    assert str(n.pools[0].gateway) == str(sub.network_address + 254)
    cid, ns = net.sandbox()
    static = str(sub.network_address + 7)
    ep = net.svc.connect(n.name, cid, ns, name="web", ipv4_address=static, mac_address="02:aa:bb:cc:dd:ee")
    assert (ep.ifname, ep.ip, ep.prefix, ep.mac) == ("eth0", static, sub.prefixlen, "02:aa:bb:cc:dd:ee")
    state = _ns_state(ns)
    assert f"{static}/{sub.prefixlen}" in state["addrs"]["eth0"]
    assert state["macs"]["eth0"] == "02:aa:bb:cc:dd:ee"
    assert ("default", 0, str(sub.network_address + 254)) in state["routes"]
    assert ep.settings(n)["IPAMConfig"] == {"IPv4Address": static}
    # an automatic address comes from ip_range (upper half)
    cid2, ns2 = net.sandbox()
    ep2 = net.svc.connect(n.name, cid2, ns2)
    assert ipaddress.ip_address(ep2.ip) in list(sub.subnets(1))[1]
    with pytest.raises(Conflict):
        net.svc.connect(n.name, net.sandbox()[0], net.sandbox()[1], ipv4_address=static)
    with pytest.raises(Conflict):
        net.create(ipam={"config": [{"subnet": str(sub)}]})
    with pytest.raises(InvalidArgument):
        net.create(ipam={"config": [{"subnet": "10.0.0.0/24", "gateway": "10.0.1.1"}]})


def _free_subnet(net) -> ipaddress.IPv4Network:
    from runtime.network.ipam import choose_subnet, host_networks, parse_pools
    ours = [p.subnet for n in net.svc.list() for p in n.pools]
    return choose_subnet(parse_pools([{"base": "10.231.0.0/16", "size": 24}]), host_networks() + ours)


def test_two_sandboxes_on_one_network_reach_each_other(net):
    n = net.create()
    (c1, ns1), (c2, ns2) = net.sandbox(), net.sandbox()
    e1 = net.svc.connect(n.name, c1, ns1, name="one")
    e2 = net.svc.connect(n.name, c2, ns2, name="two", aliases=["svc"])
    assert e1.ip != e2.ip and e1.mac.startswith("02:42:")
    assert _ping(ns1, e2.ip) and _ping(ns2, e1.ip) and _ping(ns1, str(n.pools[0].gateway))
    assert set(net.svc.inspect(n.name)["Containers"]) == {c1, c2}
    host_side = _link(e1.host_veth)
    assert host_side is not None and host_side["master"] == _bridge_index(n.bridge)
    with pytest.raises(Conflict):
        net.svc.remove(n.name)
    net.svc.destroy_sandbox(c1)
    net.svc.destroy_sandbox(c2)
    # cut off the bridge at once (down, no master), deleted by the reaper off the caller's path
    assert all(_gone_or_cut_off(e.host_veth) for e in (e1, e2))
    assert net.svc.reaper.drain(30)
    assert _link(e1.host_veth) is None and _link(e2.host_veth) is None
    net.svc.remove(n.name)


def _bridge_index(name: str) -> int:
    with IPRoute() as ipr:
        return ipr.link_lookup(ifname=name)[0]


def test_sandbox_on_two_networks_gets_eth0_eth1_and_reaches_both(net):
    a, b = net.create(), net.create()
    cid, ns = net.sandbox()
    (pa, ina), (pb, inb) = net.sandbox(), net.sandbox()
    net.svc.connect(a.name, pa, ina)
    net.svc.connect(b.name, pb, inb)
    ea = net.svc.connect(a.name, cid, ns, priority=0)
    eb = net.svc.connect(b.name, cid, ns, priority=0)
    assert (ea.ifname, eb.ifname) == ("eth0", "eth1")
    state = _ns_state(ns)
    assert state["links"] == ["eth0", "eth1", "lo"]
    defaults = [r for r in state["routes"] if r[0] == "default"]
    assert defaults == [("default", 0, str(a.pools[0].gateway))]
    assert _ping(ns, net.svc.endpoints_of(pa)[0].ip) and _ping(ns, net.svc.endpoints_of(pb)[0].ip)
    # a higher-priority network connected later takes over the default route
    c = net.create()
    ec = net.svc.connect(c.name, cid, ns, priority=10)
    assert ec.ifname == "eth2" and ec.default_route
    assert [r for r in _ns_state(ns)["routes"] if r[0] == "default"] == [("default", 0, str(c.pools[0].gateway))]
    # disconnecting it hands the default route back, and eth2 disappears
    net.svc.disconnect(c.name, cid)
    state = _ns_state(ns)
    assert "eth2" not in state["links"]
    assert [r for r in state["routes"] if r[0] == "default"] == [("default", 0, str(a.pools[0].gateway))]
    assert [e.network_id for e in net.svc.endpoints_of(cid) if e.default_route] == [a.id]


def test_networks_are_isolated_and_the_drop_is_our_rule(net):
    a, b = net.create(), net.create()
    (ca, nsa), (cb, nsb) = net.sandbox(), net.sandbox()
    net.svc.connect(a.name, ca, nsa)
    eb = net.svc.connect(b.name, cb, nsb)
    assert _ping(nsb, str(b.pools[0].gateway))
    assert _unreachable(nsa, eb.ip), "a container on network A reached one on network B"
    # control: without our rules, the same packets are forwarded (so the drop above is the isolation rule)
    net.svc.firewall.remove(a.id, a.bridge)
    net.svc.firewall.remove(b.id, b.bridge)
    assert _ping(nsa, eb.ip)


def test_internal_network_has_no_default_route_and_no_way_out(net):
    ext, internal = net.create(), net.create(internal=True)
    (ce, nse), (ci, nsi) = net.sandbox(), net.sandbox()
    ee = net.svc.connect(ext.name, ce, nse)
    ei = net.svc.connect(internal.name, ci, nsi)
    assert not ei.default_route
    assert [r for r in _ns_state(nsi)["routes"] if r[0] == "default"] == []
    rules = net.svc.firewall.rules_of(internal.id)
    assert rules and not any("masquerade" in str(r["expr"]) for r in rules)
    # even with a route added by hand, nothing crosses from the internal bridge to another one
    with netlink_in(nsi) as ipr:
        ipr.route("add", dst=str(ext.pools[0].subnet), gateway=str(internal.pools[0].gateway))
    assert _unreachable(nsi, ee.ip)
    assert net.svc.inspect(internal.name)["Internal"] is True


def test_ipv6_network(net):
    n = net.create(enable_ipv6=True)
    v6 = n.pool(6)
    assert v6 is not None and v6.subnet.prefixlen == 64 and v6.subnet.network_address.packed[0] == 0xFD
    (c1, ns1), (c2, ns2) = net.sandbox(), net.sandbox()
    e1 = net.svc.connect(n.name, c1, ns1)
    want = str(v6.subnet.network_address + 0x99)
    e2 = net.svc.connect(n.name, c2, ns2, ipv6_address=want)
    assert e2.ipv6 is not None and str(e2.ipv6.ip) == want and e1.ipv6 is not None
    assert run_in(ns1, ["busybox", "ping6", "-c", "1", "-W", "2", want]).returncode == 0
    assert f'ip6 saddr {v6.subnet} oifname != "{n.bridge}" masquerade' in _nft_text(net.svc.firewall.table)


def test_errors_are_typed(net):
    n = net.create()
    with pytest.raises(Conflict):
        net.svc.create(n.name, options={"com.docker.network.bridge.name": net.bridge_name()})
    with pytest.raises(Conflict):  # an interface of that name exists already
        net.svc.create(net.prefix + "-dup", options={"com.docker.network.bridge.name": n.bridge})
    with pytest.raises(NotFound):
        net.svc.remove("no-such-network")
    with pytest.raises(InvalidArgument):
        net.svc.connect("host", *net.sandbox())
    cid, ns = net.sandbox()
    net.svc.connect(n.name, cid, ns)
    with pytest.raises(Conflict):
        net.svc.connect(n.name, cid, ns)
    with pytest.raises(NotFound):
        net.svc.disconnect(net.create().name, cid)
    with pytest.raises(Exception):
        net.svc.remove("host")


def test_state_is_readopted_by_a_new_service(net, tmp_path):
    n = net.create()
    cid, ns = net.sandbox()
    ep = net.svc.connect(n.name, cid, ns, name="keep")
    again = NetworkService(net.svc.root, net.svc.run_dir, nft_table=net.svc.firewall.table,
                           enable_ip_forward=False)
    again.restore()
    assert again.get(n.name).endpoints[cid] == ep
    assert again.inspect(n.id)["Containers"][cid]["IPv4Address"] == f"{ep.ip}/{ep.prefix}"
    assert _link(ep.host_veth) is not None, "restore must keep a live endpoint's veth"
    # a veth on our bridge that no record names (a crash between creating it and saving) is removed
    stray = net.prefix + "s"  # our prefix: the fixture's leak check catches it should restore miss it
    with IPRoute() as ipr:
        ipr.link("add", ifname=stray, kind="veth", peer={"ifname": net.prefix + "p"},
                 master=ipr.link_lookup(ifname=n.bridge)[0])
    again.restore()
    assert _link(stray) is None and _link(net.prefix + "p") is None and _link(ep.host_veth) is not None
    # after a "reboot" (bridge and rules gone), restore rebuilds both and forgets the dead endpoint
    net.svc.destroy_sandbox(cid)
    with IPRoute() as ipr:
        ipr.link("del", index=ipr.link_lookup(ifname=n.bridge)[0])
    net.svc.firewall.remove(n.id, n.bridge)
    again = NetworkService(net.svc.root, net.svc.run_dir, nft_table=net.svc.firewall.table,
                           enable_ip_forward=False)
    again.restore()
    assert _link(n.bridge) is not None and again.firewall.rules_of(n.id)
    assert again.get(n.name).endpoints == {}
    assert again.get(n.name).pools[0].allocated == set()
    again.remove(n.name)
    net.svc._networks.pop(n.id)  # noqa: SLF001 - the first instance's view is stale by design


def test_events_and_read_api(net):
    events = []
    unsubscribe = net.svc.subscribe(events.append)
    n = net.create()
    cid, ns = net.sandbox()
    ep = net.svc.connect(n.name, cid, ns, name="/web-1", aliases=["web", "alias"])
    assert net.svc.endpoint_by_ip(ep.ip) == ep
    assert net.svc.endpoints(n.name) == [ep] and str(net.svc.sandbox_path(cid)) == ns == ep.sandbox
    net.svc.disconnect(n.name, cid)
    net.svc.remove(n.name)
    unsubscribe()
    net.create()
    assert [e.action for e in events] == ["create", "connect", "disconnect", "remove"]
    connect = events[1]
    assert connect.network_name == n.name and connect.endpoint.name == "web-1"
    assert connect.endpoint.aliases == ("web", "alias") and connect.endpoint.ip == ep.ip


def test_network_modes(net):
    cid, ns = net.sandbox()
    assert net.svc.sandbox_for_mode("host", "x") is None
    assert str(net.svc.sandbox_for_mode(f"container:{cid}", "y")) == ns
    with pytest.raises(NotFound):
        net.svc.sandbox_for_mode("container:" + "0" * 64, "z")
    other = secrets_hex()
    none_ns = net.svc.sandbox_for_mode("none", other)
    assert _ns_state(str(none_ns))["links"] == ["lo"]


def secrets_hex() -> str:
    import secrets
    return secrets.token_hex(32)


def test_list_filters_and_prune(net):
    keep = net.create(labels={"keep": "1"})
    drop = net.create(labels={"proj": "a"})
    names = {n.name for n in net.svc.list()}
    assert {"host", "none", keep.name, drop.name} <= names
    assert [n.name for n in net.svc.list({"label": ["proj=a"]})] == [drop.name]
    assert {n.name for n in net.svc.list({"type": ["builtin"]})} == {"host", "none"}
    cid, ns = net.sandbox()
    busy = net.create(labels={"proj": "a"})
    net.svc.connect(busy.name, cid, ns)
    assert net.svc.prune({"label": ["proj"]}) == [drop.name]
    assert {n.name for n in net.svc.list({"label": ["proj"]})} == {busy.name}


def test_default_bridge_is_created_once(net):
    a = net.svc.default_bridge()
    assert a.name == "bridge" and a.bridge == net.svc.default_bridge_name and a.predefined
    assert net.svc.default_bridge() is a
    with pytest.raises(Conflict):
        net.svc.remove("bridge")


def test_restore_finishes_a_create_or_remove_cut_short(net):
    import json
    n = net.create()
    record = net.svc.root / "networks" / f"{n.id}.json"
    # a crash right after the write-ahead record, before the bridge existed: restore builds it
    with IPRoute() as ipr:
        ipr.link("del", index=ipr.link_lookup(ifname=n.bridge)[0])
    net.svc.firewall.remove(n.id, n.bridge)
    again = NetworkService(net.svc.root, net.svc.run_dir, nft_table=net.svc.firewall.table,
                           enable_ip_forward=False)
    again.restore()
    assert _link(n.bridge) is not None and again.firewall.rules_of(n.id)
    # a crash mid-removal (record marked, bridge still there): restore finishes the removal
    raw = json.loads(record.read_text())
    raw["removing"] = True
    record.write_text(json.dumps(raw))
    third = NetworkService(net.svc.root, net.svc.run_dir, nft_table=net.svc.firewall.table,
                           enable_ip_forward=False)
    third.restore()
    assert _link(n.bridge) is None and not third.firewall.rules_of(n.id) and not record.exists()
    with pytest.raises(NotFound):
        third.get(n.name)
    net.svc._networks.pop(n.id)  # noqa: SLF001 - the first instance's view is stale by design


def test_icc_disabled_blocks_containers_on_one_bridge(net):
    try:
        with open("/proc/sys/net/bridge/bridge-nf-call-iptables") as fh:
            bridged_hooks = fh.read().strip() == "1"
    except FileNotFoundError:
        bridged_hooks = False
    if not bridged_hooks:
        pytest.skip("br_netfilter is not loaded: bridged frames never reach nftables (as with Docker)")
    n = net.create(options={"com.docker.network.bridge.enable_icc": "false"})
    (c1, ns1), (c2, ns2) = net.sandbox(), net.sandbox()
    net.svc.connect(n.name, c1, ns1)
    e2 = net.svc.connect(n.name, c2, ns2)
    assert _ping(ns1, str(n.pools[0].gateway))
    assert _unreachable(ns1, e2.ip)


def test_interface_name_and_prefix(net):
    plain = net.create()
    custom = net.create(options={"com.docker.network.container_iface_prefix": "lan"})
    cid, ns = net.sandbox()
    a = net.svc.connect(plain.name, cid, ns, ifname="uplink0")
    b = net.svc.connect(custom.name, cid, ns)
    assert (a.ifname, b.ifname) == ("uplink0", "lan0")
    assert _ns_state(ns)["links"] == ["lan0", "lo", "uplink0"]
    other = net.create()
    with pytest.raises(Conflict):  # the name is taken inside the sandbox
        net.svc.connect(other.name, cid, ns, ifname="lan0")
    assert net.svc.endpoints(other.name) == [] and other.pools[0].allocated == set()
    with pytest.raises(InvalidArgument):
        net.svc.connect(other.name, cid, ns, ifname="bad/name")


def test_concurrent_connects_and_two_engines_creating_at_once(net, tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    n = net.create()
    boxes = [net.sandbox() for _ in range(12)]
    with ThreadPoolExecutor(6) as pool:
        eps = list(pool.map(lambda b: net.svc.connect(n.name, b[0], b[1]), boxes))
    assert len({e.ip for e in eps}) == 12 and len({e.host_veth for e in eps}) == 12
    assert all(_link(e.host_veth) is not None for e in eps)
    assert set(net.svc.inspect(n.name)["Containers"]) == {b[0] for b in boxes}

    # a second engine on the same host (own root, own table): the host lock keeps subnets apart
    other = NetworkService(tmp_path / "other-root", tmp_path / "other-run", nft_table=net.prefix + "o",
                           enable_ip_forward=False)
    made = []
    try:
        def make(i: int):
            svc = net.svc if i % 2 else other
            name = f"{net.prefix}-c{i}"
            made.append((svc, name))
            return svc.create(name, options={"com.docker.network.bridge.name": f"{net.prefix}c{i}"})
        with ThreadPoolExecutor(4) as pool:
            nets = list(pool.map(make, range(6)))
        subnets = [x.pools[0].subnet for x in nets] + [n.pools[0].subnet]
        assert all(not a.overlaps(b) for i, a in enumerate(subnets) for b in subnets[i + 1:])
    finally:
        for svc, name in made:
            try:
                svc.remove(name)
            except NotFound:
                pass


def test_destroy_sandbox_by_its_own_key_takes_the_endpoints_in_it(net):
    n = net.create()
    key = "sbx" + net.prefix
    sandbox = str(net.svc.create_sandbox(key))
    cid = "c" * 64
    ep = net.svc.connect(n.name, cid, sandbox, name="keyed")
    assert net.svc.network_settings(cid)["SandboxKey"] == sandbox
    net.svc.destroy_sandbox(key)
    assert net.svc.endpoints_of(cid) == [] and _gone_or_cut_off(ep.host_veth)
    assert net.svc.reaper.drain(30) and _link(ep.host_veth) is None
    assert not net.svc.netns.exists(key)


def test_sandbox_lets_unprivileged_processes_bind_low_ports_and_ping(net):
    from runtime.network.netns import run_in_netns
    _, ns = net.sandbox()
    read = lambda key: open(f"/proc/sys/net/ipv4/{key}").read().split()  # noqa: E731
    assert run_in_netns(ns, read, "ip_unprivileged_port_start") == ["0"]
    assert run_in_netns(ns, read, "ping_group_range") == ["0", "2147483647"]
    out = run_in(ns, ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
                      "import socket; s = socket.socket(); s.bind(('0.0.0.0', 80)); print('bound')"])
    assert out.returncode == 0 and out.stdout == b"bound\n", out.stderr
    ping = run_in(ns, ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
                       "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)"])
    assert ping.returncode == 0, ping.stderr


def test_an_unreadable_record_is_skipped_not_fatal(net):
    n = net.create()
    (net.svc.root / "networks" / ("f" * 64 + ".json")).write_text("{not json")
    again = NetworkService(net.svc.root, net.svc.run_dir, nft_table=net.svc.firewall.table,
                           enable_ip_forward=False)
    assert again.get(n.name).id == n.id
    (net.svc.root / "networks" / ("f" * 64 + ".json")).unlink()
