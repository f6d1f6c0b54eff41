"""IPAM as pure functions: pools, overlap avoidance, round-robin allocation, config checks, state round trip."""
from __future__ import annotations

import ipaddress

import pytest

from runtime.errors import Conflict, InvalidArgument
from runtime.network.ipam import (
    DEFAULT_POOLS, AddressPool, IpamSpec, SubnetConfig, choose_subnet, parse_pools, ula_subnet,
)

net = ipaddress.ip_network
ip = ipaddress.ip_address


def test_default_pools_are_dockers():
    assert [str(p.base) for p in DEFAULT_POOLS[:2]] == ["172.17.0.0/16", "172.18.0.0/16"]
    assert str(DEFAULT_POOLS[-2].base) == "172.31.0.0/16" and DEFAULT_POOLS[-2].size == 16
    assert str(DEFAULT_POOLS[-1].base) == "192.168.0.0/16" and DEFAULT_POOLS[-1].size == 20


def test_choose_subnet_skips_anything_overlapping():
    taken = [net("172.17.0.0/16"), net("172.18.5.0/24"), net("10.0.0.0/8"), net("fd00::/64")]
    assert choose_subnet(DEFAULT_POOLS, taken) == net("172.19.0.0/16")
    # a host route covering all of 172.16/12 pushes allocation into 192.168/16 in /20 steps
    taken = [net("172.16.0.0/12"), net("192.168.0.0/24")]
    assert choose_subnet(DEFAULT_POOLS, taken) == net("192.168.16.0/20")


def test_pools_exhausted_is_a_conflict():
    pools = parse_pools([{"base": "10.1.0.0/23", "size": 24}])
    with pytest.raises(Conflict, match="fully subnetted"):
        choose_subnet(pools, [net("10.1.0.0/24"), net("10.1.1.0/24")])


def test_parse_pools():
    (a, b) = parse_pools([{"base": "10.10.0.0/16", "size": 24}, "10.20.0.0/16"])
    assert (str(a.base), a.size, str(b.base), b.size) == ("10.10.0.0/16", 24, "10.20.0.0/16", 16)
    with pytest.raises(InvalidArgument):
        parse_pools([{"base": "10.0.0.0/24", "size": 16}])


def test_round_robin_allocation_skips_gateway_network_and_broadcast():
    pool = AddressPool(net("10.0.0.0/29"))
    assert pool.gateway == ip("10.0.0.1")
    got = [str(pool.allocate()) for _ in range(5)]
    assert got == ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
    with pytest.raises(Conflict, match="no free address"):
        pool.allocate()
    pool.release("10.0.0.3")
    assert str(pool.allocate()) == "10.0.0.3"


def test_freed_address_is_not_reused_at_once():
    pool = AddressPool(net("10.0.0.0/24"))
    first = pool.allocate()
    pool.release(first)
    assert pool.allocate() != first


def test_static_address_rules():
    pool = AddressPool(net("10.0.0.0/24"), gateway=ip("10.0.0.254"), reserved=[ip("10.0.0.9")])
    assert str(pool.allocate("10.0.0.1")) == "10.0.0.1"
    for bad, err in (("10.0.0.1", Conflict), ("10.0.0.254", Conflict), ("10.0.0.9", Conflict),
                     ("10.0.0.0", Conflict), ("10.0.0.255", Conflict), ("10.0.1.1", InvalidArgument)):
        with pytest.raises(err):
            pool.allocate(bad)


def test_ip_range_limits_automatic_addresses_only():
    pool = AddressPool(net("10.0.0.0/24"), ip_range=net("10.0.0.128/30"))
    assert [str(pool.allocate()) for _ in range(4)] == ["10.0.0.128", "10.0.0.129", "10.0.0.130", "10.0.0.131"]
    with pytest.raises(Conflict):
        pool.allocate()
    assert str(pool.allocate("10.0.0.50")) == "10.0.0.50"


def test_ipv6_pool_and_state_round_trip():
    pool = AddressPool(net("fd12:3456:789a::/64"))
    assert str(pool.allocate()) == "fd12:3456:789a::2"
    pool.allocate("fd12:3456:789a::99")
    again = AddressPool.from_state(pool.to_state())
    assert again.to_state() == pool.to_state()
    assert str(again.allocate()) == "fd12:3456:789a::3"


def test_ula_subnet_is_stable_and_avoids_taken():
    a = ula_subnet("net-1", [])
    assert a.prefixlen == 64 and a.network_address.packed[0] == 0xFD and ula_subnet("net-1", []) == a
    assert ula_subnet("net-1", [a]) != a


def test_subnet_config_checks():
    cfg = SubnetConfig.from_dict({"Subnet": "10.5.0.0/16", "IPRange": "10.5.1.0/24", "Gateway": "10.5.0.1",
                                  "AuxiliaryAddresses": {"host1": "10.5.0.5"}})
    assert cfg.to_engine() == {"Subnet": "10.5.0.0/16", "IPRange": "10.5.1.0/24", "Gateway": "10.5.0.1",
                               "AuxiliaryAddresses": {"host1": "10.5.0.5"}}
    for bad in ({"subnet": "10.5.0.0/16", "ip_range": "10.6.0.0/24"}, {"subnet": "10.5.0.0/16", "gateway": "10.6.0.1"},
                {"gateway": "10.5.0.1"}, {"subnet": "not-a-net"}):
        with pytest.raises(InvalidArgument):
            SubnetConfig.from_dict(bad)
    with pytest.raises(InvalidArgument, match="not supported"):
        IpamSpec.from_dict({"driver": "dhcp"})
    spec = IpamSpec.from_dict({"config": [{"subnet": "10.9.0.0/24"}], "options": {"a": 1}})
    assert spec.config[0].subnet == net("10.9.0.0/24") and spec.options == {"a": "1"}


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(prefix=st.integers(24, 30), ops=st.lists(st.tuples(st.booleans(), st.integers(0, 255)), max_size=80))
def test_allocation_never_repeats_or_hands_out_reserved(prefix, ops):
    subnet = net(f"10.9.8.0/{prefix}")
    pool = AddressPool(subnet)
    live: set = set()
    for alloc, pick in ops:
        if alloc:
            try:
                addr = pool.allocate()
            except Conflict:
                assert len(live) == subnet.num_addresses - 3  # network, broadcast, gateway
                continue
            assert addr not in live and addr in subnet
            assert addr not in (subnet.network_address, subnet.broadcast_address, pool.gateway)
            live.add(addr)
        elif live:
            victim = sorted(live)[pick % len(live)]
            pool.release(victim)
            live.discard(victim)
        again = AddressPool.from_state(pool.to_state())
        assert again.allocated == live
