"""Pure checks behind ``network connect`` of a running container: Docker's rules for static endpoint addresses
on a network, and the in-place /etc/hosts edits made on connect and disconnect."""
from __future__ import annotations

import pytest

from runtime.errors import InvalidArgument
from runtime.network.dns.hostsfile import add_host_entries, host_names, remove_host_entries, render_hosts
from runtime.network.endpointcfg import check_static_addresses
from runtime.network.ipam import IpamSpec
from runtime.network.model import OPT_DEFAULT_BRIDGE, Network


def _net(*subnets: str, ipv6: bool = False, ipv4: bool = True, default: bool = False) -> Network:
    return Network("n" * 64, "front", "bridge", "2026-01-01T00:00:00Z", enable_ipv6=ipv6, enable_ipv4=ipv4,
                   ipam=IpamSpec.from_dict({"Config": [{"Subnet": s} for s in subnets]}),
                   options={OPT_DEFAULT_BRIDGE: "true"} if default else {})


def _ipam(**addrs: str) -> dict:
    return {"IPAMConfig": {f"IPv{k[-1]}Address": v for k, v in addrs.items()}}


@pytest.mark.parametrize(("net", "cfg", "words"), [
    (_net("10.5.0.0/24"), _ipam(v4="10.6.0.3"), "invalid endpoint settings:\nno configured subnet or ip-range "
                                                 "contain the IP address 10.6.0.3"),
    (_net("10.5.0.0/24"), _ipam(v4="10.5.0.300"), "invalid IPv4 address: 10.5.0.300"),
    (_net("10.5.0.0/24"), _ipam(v4="fd00::1"), "invalid IPv4 address: fd00::1"),
    (_net("10.5.0.0/24", ipv6=True), _ipam(v6="10.5.0.3"), "invalid IPv6 address: 10.5.0.3"),
    (_net("10.5.0.0/24"), _ipam(v6="fd00::3"), "network front does not have IPv6 enabled"),
    (_net("fd00:1::/64", ipv6=True, ipv4=False), _ipam(v4="10.5.0.3"), "network front does not have IPv4 enabled"),
    (_net(), _ipam(v4="10.5.0.3"), "supported only when connecting to networks with user configured subnets"),
    (_net("10.5.0.0/24", ipv6=True), _ipam(v6="fd00:1::3"), "user configured subnets"),  # its IPv6 one is automatic
    (_net("10.5.0.0/24", default=True), _ipam(v4="10.5.0.3"), "supported on user defined networks only"),
])
def test_static_address_refused_with_dockers_words(net, cfg, words):
    with pytest.raises(InvalidArgument) as err:
        check_static_addresses(net, cfg)
    assert words in str(err.value)


@pytest.mark.parametrize("cfg", [{}, {"IPAMConfig": None}, {"IPAMConfig": {"IPv4Address": ""}},
                                 _ipam(v4="10.5.0.3"), _ipam(v4="10.5.0.3", v6="fd00:1::3")])
def test_static_address_accepted(cfg):
    check_static_addresses(_net("10.5.0.0/24", "fd00:1::/64", ipv6=True), cfg)
    check_static_addresses(_net(default=True), {})  # no address asked: any network will do


def test_hosts_lines_come_and_go_in_place():
    base = render_hosts("abc123", ["10.5.0.2"], ["db:10.1.1.1"])
    user = base + "192.0.2.9\tmine\n"  # the user's own edit, kept throughout
    names = host_names("abc123")
    added = add_host_entries(user, ["10.6.0.7", "fd00:1::7"], names)
    assert added == user + "10.6.0.7\tabc123\nfd00:1::7\tabc123\n"
    assert add_host_entries(added, ["10.6.0.7"], names) == added  # not twice
    assert remove_host_entries(added, ["10.6.0.7", "fd00:1::7"], names) == user
    # only lines naming exactly the container go: an extra host on the same address stays
    other = added + "10.6.0.7\tsomething-else\n"
    assert remove_host_entries(other, ["10.6.0.7", "fd00:1::7"], names) == user + "10.6.0.7\tsomething-else\n"
    assert host_names("web", "example.org") == ["web.example.org", "web"]
    assert add_host_entries("127.0.0.1\tlocalhost", ["10.0.0.1"], ["h"]) == "127.0.0.1\tlocalhost\n10.0.0.1\th\n"


def test_links_parse_and_resolve_for_their_container_alone():
    from runtime.network.dns.records import Records
    from runtime.network.endpointcfg import endpoint_links

    assert endpoint_links(["db:data", "/cache:/box/c", "web"]) == (("data", "db"), ("c", "cache"), ("web", "web"))
    assert endpoint_links(None) == ()
    for bad in ("db:data", [""], [3]):
        with pytest.raises(InvalidArgument):
            endpoint_links(bad)
    rec = Records()
    rec.add_endpoint("n1", "a" * 64, "box", ipv4="10.0.0.2", links=[("data", "db")])
    rec.add_endpoint("n1", "b" * 64, "db", ipv4="10.0.0.3")
    rec.add_endpoint("n1", "c" * 64, "other", ipv4="10.0.0.4")
    assert rec.resolve("a" * 64, "data").ipv4 == (bytes([10, 0, 0, 3]),)
    assert rec.resolve("c" * 64, "data") is None  # the alias is the linking container's alone
    assert rec.resolve("a" * 64, "db").ipv4 == (bytes([10, 0, 0, 3]),)
