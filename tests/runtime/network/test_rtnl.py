"""The raw rtnetlink module on real kernel objects: a veth pair into a sandbox of the test's own, its peer's
name, MAC, MTU, addresses and default route as the kernel reports them (read back through pyroute2, an
independent decoder), EEXIST and other refusals typed, batches answered request by request."""
from __future__ import annotations

import errno
import ipaddress
import os
import socket

import pytest
from pyroute2 import IPRoute

from runtime.errors import Conflict, EngineError
from runtime.network import endpoint as _veth
from runtime.network import rtnl
from runtime.network.netns import netlink_in

pytestmark = pytest.mark.root


def _host_link(name: str):
    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=name)
        return ipr.get_links(found[0])[0] if found else None


def test_veth_pair_into_a_sandbox_with_name_mac_mtu_master_and_up(net):
    n = net.create(options={"com.docker.network.driver.mtu": "1400"})
    _cid, ns = net.sandbox()
    host_name = net.prefix + "v1"
    with rtnl.Rtnl() as host:
        bridge = host.link_index(n.bridge)
        assert bridge is not None and bridge == _host_link(n.bridge)["index"]
        fd = os.open(ns, os.O_RDONLY | os.O_CLOEXEC)
        try:
            host.call(rtnl.new_veth(host_name, "eth0", fd, master=bridge, mtu=1400, peer_mac="02:42:0a:01:02:03"))
        finally:
            os.close(fd)
        try:
            link = _host_link(host_name)
            assert link.get("master") == bridge and link["flags"] & 1 and link.get("mtu") == 1400
            assert _host_link("eth0") is None or _host_link("eth0").get("master") != bridge  # the peer is not here
            with rtnl.Rtnl(ns) as inside:
                assert sorted(inside.link_names()) == ["eth0", "lo"]
                index = inside.link_index("eth0")
                v4 = ipaddress.ip_interface("10.254.77.9/24")
                answers = inside.exchange([rtnl.set_link_up(index), rtnl.new_address(index, v4),
                                           rtnl.new_default_route(index, ipaddress.ip_address("10.254.77.1"))])
                assert [a.error for a in answers] == [0, 0, 0]
            with netlink_in(ns) as ipr:
                (peer,) = ipr.get_links(index)
                assert peer.get("ifname") == "eth0" and peer.get("address") == "02:42:0a:01:02:03"
                assert peer.get("mtu") == 1400 and peer["flags"] & 1
                addrs = [(a.get("address"), a["prefixlen"], a.get("broadcast")) for a in ipr.get_addr(index=index,
                                                                                                   family=2)]
                assert addrs == [("10.254.77.9", 24, "10.254.77.255")]
                (route,) = [r for r in ipr.get_routes(family=socket.AF_INET, table=254) if r["dst_len"] == 0]
                assert route.get("gateway") == "10.254.77.1" and route.get("oif") == index
        finally:
            with rtnl.Rtnl() as again:
                assert _veth.remove_veth(host_name, again) is True
                assert _veth.remove_veth(host_name, again) is False  # already gone: not an error
    assert _host_link(host_name) is None
    with rtnl.Rtnl(ns) as inside:
        assert inside.link_names() == ["lo"]  # the peer went with its pair


def test_lookups_by_name_and_missing_links(net):
    with rtnl.Rtnl() as host:
        assert host.link_index("lo") == 1
        assert host.link_index(net.prefix + "nope") is None
    _cid, ns = net.sandbox()
    with rtnl.Rtnl(ns) as inside:
        assert inside.link_index("lo") == 1 and inside.link_names() == ["lo"]


def test_eexist_and_refusals_are_typed(net):
    n = net.create()
    _cid, ns = net.sandbox()
    fd = os.open(ns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with rtnl.Rtnl() as host:
            # a host name that is taken (the bridge's): EEXIST in the answer, RtnlError from check()
            (answer,) = host.exchange([rtnl.new_veth(n.bridge, "eth9", fd)])
            assert answer.error == errno.EEXIST
            with pytest.raises(rtnl.RtnlError) as info:
                answer.check()
            assert isinstance(info.value, EngineError) and info.value.code == errno.EEXIST
            assert n.bridge in str(info.value)
            # a master that does not exist
            with pytest.raises(rtnl.RtnlError) as info:
                host.call(rtnl.new_veth(net.prefix + "v2", "eth9", fd, master=0x7FFFFFF0))
            assert info.value.code in (errno.ENODEV, errno.EINVAL)
            assert host.link_index(net.prefix + "v2") is None  # nothing half-made
    finally:
        os.close(fd)
    # attach_veth: the sandbox already has the interface name -> Conflict, and no veth is left behind
    spec = _veth.VethSpec(n.bridge, ns, "lo", (ipaddress.ip_interface("10.254.78.2/24"),), "02:42:0a:fe:4e:02")
    with pytest.raises(Conflict, match="already has an interface named lo"):
        _veth.attach_veth(spec)
    with IPRoute() as ipr:
        bridge = ipr.link_lookup(ifname=n.bridge)[0]
        assert [ln.get("ifname") for ln in ipr.get_links() if ln.get("master") == bridge] == []
    # a bridge that is gone -> Conflict
    with pytest.raises(Conflict, match="does not exist"):
        _veth.attach_veth(_veth.VethSpec(net.prefix + "gone", ns, "eth0", (), "02:42:0a:fe:4e:03"))


def test_a_batch_answers_each_request_and_a_failed_peer_setup_leaves_no_veth(net):
    n = net.create()
    _cid, ns = net.sandbox()
    addr = ipaddress.ip_interface("10.254.79.2/24")
    with rtnl.Rtnl(ns) as inside:
        answers = inside.exchange([rtnl.new_address(1, addr), rtnl.new_address(1, addr),
                                   rtnl.link_request("nope0"), rtnl.link_request("lo")])
        assert [a.error for a in answers] == [0, errno.EEXIST, errno.ENODEV, 0]
        assert answers[3].payload  # a get answers with the link itself
    # the peer's setup fails half-way (a default route through a gateway outside its subnet: the kernel
    # refuses it): the error is typed and the pair is deleted again
    spec = _veth.VethSpec(n.bridge, ns, "eth0", (ipaddress.ip_interface("10.254.80.2/24"),), "02:42:0a:fe:50:02")
    with pytest.raises(rtnl.RtnlError) as info:
        _veth.attach_veth(spec, [ipaddress.ip_address("192.0.2.1")])
    assert info.value.code == errno.ENETUNREACH
    with rtnl.Rtnl(ns) as inside:
        assert inside.link_names() == ["lo"]
    with IPRoute() as ipr:
        bridge = ipr.link_lookup(ifname=n.bridge)[0]
        assert [ln.get("ifname") for ln in ipr.get_links() if ln.get("master") == bridge] == []


def test_ipv6_address_and_route(net):
    n = net.create(enable_ipv6=True)
    _cid, ns = net.sandbox()
    v6 = ipaddress.ip_interface("fd00:254:81::2/64")
    spec = _veth.VethSpec(n.bridge, ns, "eth0", (ipaddress.ip_interface("10.254.81.2/24"), v6),
                          "02:42:0a:fe:51:02")
    host = _veth.attach_veth(spec, [ipaddress.ip_address("10.254.81.1"), ipaddress.ip_address("fd00:254:81::1")])
    try:
        with netlink_in(ns) as ipr:
            index = ipr.link_lookup(ifname="eth0")[0]
            got = {a.get("address") for a in ipr.get_addr(index=index, family=socket.AF_INET6)}
            assert "fd00:254:81::2" in got
            routes = [r for r in ipr.get_routes(family=socket.AF_INET6, table=254) if r["dst_len"] == 0]
            assert [r.get("gateway") for r in routes] == ["fd00:254:81::1"]
    finally:
        assert _veth.remove_veth(host)


def test_destroy_sandbox_cuts_the_veth_off_at_once_and_the_reaper_deletes_it(net):
    n = net.create()
    cid, ns = net.sandbox()
    ep = net.svc.connect(n.name, cid, ns)
    with IPRoute() as ipr:
        bridge = ipr.link_lookup(ifname=n.bridge)[0]
    net.svc.destroy_sandbox(cid)
    link = _host_link(ep.host_veth)  # the kernel may not have deleted it yet: then it is down and unbridged
    assert link is None or (link.get("master") in (None, 0) and not link["flags"] & 1)
    with IPRoute() as ipr:
        assert [ln.get("ifname") for ln in ipr.get_links() if ln.get("master") == bridge] == []
    assert n.pool(4).allocated == set() and n.endpoints == {}
    assert net.svc.reaper.drain(30)
    assert _host_link(ep.host_veth) is None
    # the address is free at once: the next sandbox gets a working endpoint on the same bridge
    other, ons = net.sandbox()
    again = net.svc.connect(n.name, other, ons, ipv4_address=ep.ip)
    assert again.ip == ep.ip and _host_link(again.host_veth).get("master") == bridge


def test_disconnect_takes_eth0_away_at_once_and_a_reconnect_gets_it_back(net):
    from .conftest import run_in

    n = net.create()
    cid, ns = net.sandbox()
    ep = net.svc.connect(n.name, cid, ns)
    gateway = str(n.pool(4).gateway)
    assert run_in(ns, ["busybox", "ping", "-c", "1", "-W", "10", gateway]).returncode == 0
    net.svc.disconnect(n.name, cid)
    with rtnl.Rtnl(ns) as inside:
        names = inside.link_names()
    assert names == ["lo"]  # moved out at once, not even a retired link left inside; the reaper deletes the pair
    with netlink_in(ns) as ipr:
        assert [r for r in ipr.get_routes(family=socket.AF_INET, table=254)] == []
    # connecting again right away: eth0 again, the same address, and it works
    again = net.svc.connect(n.name, cid, ns, ipv4_address=ep.ip)
    assert again.ifname == "eth0" and again.ip == ep.ip
    assert run_in(ns, ["busybox", "ping", "-c", "1", "-W", "10", gateway]).returncode == 0
    assert net.svc.reaper.drain(30) and _host_link(ep.host_veth) is None
    with rtnl.Rtnl(ns) as inside:
        assert sorted(inside.link_names()) == ["eth0", "lo"]


def test_back_to_back_disconnects_each_leave_nothing_in_the_container(net):
    """Several disconnects in a row (their deletes overlap in the reaper's urgent threads): each returns with
    the container's interface gone from its namespace, and the reaper then deletes every pair."""
    n = net.create()
    boxes = [net.sandbox() for _ in range(6)]
    eps = [net.svc.connect(n.name, cid, ns) for cid, ns in boxes]
    for (cid, ns), ep in zip(boxes, eps):
        net.svc.disconnect(n.name, cid)
        with rtnl.Rtnl(ns) as inside:
            assert inside.link_names() == ["lo"]
    assert net.svc.reaper.drain(30)
    assert [ep.host_veth for ep in eps if _host_link(ep.host_veth) is not None] == []
    with IPRoute() as ipr:
        assert not [ln for ln in ipr.get_links() if ln.get("master") == ipr.link_lookup(ifname=n.bridge)[0]]
