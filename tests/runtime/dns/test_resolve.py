"""Names from the table, asked from inside real network namespaces over 127.0.0.11 (UDP and TCP)."""
from __future__ import annotations

import shutil
import subprocess

import dns.exception
import dns.flags
import dns.rcode
import dns.rdatatype
import pytest

from runtime.errors import Conflict

from tests.runtime.dns.support import addresses, ask

pytestmark = pytest.mark.root

WEB = "a1b2c3d4e5f6" + "0" * 52
DB = "b2c3d4e5f6a1" + "1" * 52
CLIENT = "c3d4e5f6a1b2" + "2" * 52


@pytest.fixture
def project(dns_server, make_netns):
    """Network n1 with web (alias 'www'), db and client; the client asks from its own netns."""
    path = make_netns()
    dns_server.records("set_network_name", "n1", "proj_default")
    dns_server.add_endpoint("n1", WEB, "proj-web-1", aliases=["web", "www"], ipv4="10.88.0.2",
                            ipv6="fd00:88::2")
    dns_server.add_endpoint("n1", DB, "proj-db-1", aliases=["db"], ipv4="10.88.0.3")
    dns_server.add_endpoint("n1", CLIENT, "proj-client-1", aliases=["client"], ipv4="10.88.0.4")
    dns_server.add_scope(CLIENT, path)
    return path


@pytest.mark.parametrize("name", ["web", "www", "proj-web-1", WEB[:12], "WEB", "web.", "proj-web-1.proj_default"])
def test_a_records_for_service_alias_container_name_and_short_id(project, name):
    reply = ask(project, name)
    assert reply.rcode() == dns.rcode.NOERROR
    assert addresses(reply) == ["10.88.0.2"]
    assert reply.flags & dns.flags.AA


def test_aaaa_and_any(project):
    assert addresses(ask(project, "web", "AAAA")) == ["fd00:88::2"]
    assert sorted(addresses(ask(project, "web", "ANY"))) == ["10.88.0.2", "fd00:88::2"]


def test_known_name_without_that_family_is_nodata_not_nxdomain(project):
    reply = ask(project, "db", "AAAA")
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.answer == []


def test_unknown_name_without_upstream_is_nxdomain(project):
    assert ask(project, "nosuchservice").rcode() == dns.rcode.NXDOMAIN
    assert ask(project, "example.com").rcode() == dns.rcode.NXDOMAIN


def test_three_replicas_all_returned_in_shuffled_order(dns_server, make_netns):
    path = make_netns()
    for i in range(3):
        dns_server.add_endpoint("n1", f"{i}" * 64, f"p-api-{i + 1}", aliases=["api"], ipv4=f"10.88.1.{i + 2}")
    dns_server.add_endpoint("n1", CLIENT, "p-client-1", ipv4="10.88.1.50")
    dns_server.add_scope(CLIENT, path)
    orders = set()
    for _ in range(60):
        got = addresses(ask(path, "api"))
        assert sorted(got) == ["10.88.1.2", "10.88.1.3", "10.88.1.4"]
        orders.add(tuple(got))
    assert len(orders) > 1, "replica order never changes"
    assert {o[0] for o in orders} == {"10.88.1.2", "10.88.1.3", "10.88.1.4"}


def test_isolation_between_networks(dns_server, make_netns):
    """Two projects on separate networks use the same service name; each sees only its own."""
    path_a, path_b = make_netns(), make_netns()
    dns_server.add_endpoint("netA", "a" * 64, "pa-web-1", aliases=["web"], ipv4="10.1.0.2")
    dns_server.add_endpoint("netA", "c" * 64, "pa-client-1", ipv4="10.1.0.3")
    dns_server.add_endpoint("netB", "b" * 64, "pb-web-1", aliases=["web"], ipv4="10.2.0.2")
    dns_server.add_endpoint("netB", "d" * 64, "pb-client-1", ipv4="10.2.0.3")
    dns_server.add_scope("c" * 64, path_a)
    dns_server.add_scope("d" * 64, path_b)
    assert addresses(ask(path_a, "web")) == ["10.1.0.2"]
    assert addresses(ask(path_b, "web")) == ["10.2.0.2"]
    assert ask(path_a, "pb-web-1").rcode() == dns.rcode.NXDOMAIN
    assert ask(path_b, "pa-web-1").rcode() == dns.rcode.NXDOMAIN
    assert ask(path_a, "bbbbbbbbbbbb").rcode() == dns.rcode.NXDOMAIN


def test_container_on_two_networks_sees_both(dns_server, make_netns):
    path = make_netns()
    dns_server.add_endpoint("netA", "a" * 64, "one", ipv4="10.1.0.2")
    dns_server.add_endpoint("netB", "b" * 64, "two", ipv4="10.2.0.2")
    dns_server.add_endpoint("netA", "c" * 64, "both", ipv4="10.1.0.9")
    dns_server.add_endpoint("netB", "c" * 64, "both", ipv4="10.2.0.9")
    dns_server.add_scope("c" * 64, path)
    assert addresses(ask(path, "one")) == ["10.1.0.2"]
    assert addresses(ask(path, "two")) == ["10.2.0.2"]
    assert sorted(addresses(ask(path, "both"))) == ["10.1.0.9", "10.2.0.9"]


def test_ptr_for_container_addresses(project):
    reply = ask(project, "2.0.88.10.in-addr.arpa", "PTR")
    assert reply.rcode() == dns.rcode.NOERROR
    assert [rr.target.to_text() for rrset in reply.answer for rr in rrset] == ["proj-web-1.proj_default."]
    reply6 = ask(project, "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.8.0.0.0.0.d.f.ip6.arpa", "PTR")
    assert [rr.target.to_text() for rrset in reply6.answer for rr in rrset] == ["proj-web-1.proj_default."]
    assert ask(project, "99.0.88.10.in-addr.arpa", "PTR").rcode() == dns.rcode.NXDOMAIN


def test_updates_take_effect_immediately(dns_server, project):
    assert ask(project, "cache").rcode() == dns.rcode.NXDOMAIN
    dns_server.add_endpoint("n1", "e" * 64, "proj-cache-1", aliases=["cache"], ipv4="10.88.0.7")
    assert addresses(ask(project, "cache")) == ["10.88.0.7"]
    dns_server.add_endpoint("n1", "f" * 64, "proj-cache-2", aliases=["cache"], ipv4="10.88.0.8")
    assert sorted(addresses(ask(project, "cache"))) == ["10.88.0.7", "10.88.0.8"]
    dns_server.records("remove_endpoint", "n1", "e" * 64)
    assert addresses(ask(project, "cache")) == ["10.88.0.8"]
    dns_server.records("remove_container", "f" * 64)
    assert ask(project, "cache").rcode() == dns.rcode.NXDOMAIN
    # The asker itself disconnecting: it no longer shares n1 with anyone.
    dns_server.records("remove_endpoint", "n1", CLIENT)
    assert ask(project, "web").rcode() == dns.rcode.NXDOMAIN
    dns_server.add_endpoint("n1", CLIENT, "proj-client-1", ipv4="10.88.0.4")
    assert addresses(ask(project, "web")) == ["10.88.0.2"]


def test_tcp_queries(project):
    reply = ask(project, "web", tcp=True)
    assert addresses(reply) == ["10.88.0.2"]
    assert ask(project, "nope", tcp=True).rcode() == dns.rcode.NXDOMAIN


def test_edns0_is_echoed_and_bigger_answers_fit(dns_server, make_netns):
    path = make_netns()
    for i in range(40):
        dns_server.add_endpoint("n1", f"{i:064x}", f"w-{i}", aliases=["many"], ipv4=f"10.77.0.{i + 2}")
    dns_server.add_endpoint("n1", CLIENT, "cl", ipv4="10.77.1.1")
    dns_server.add_scope(CLIENT, path)
    plain = ask(path, "many")  # 40 x 16 bytes + header > 512: truncated without EDNS
    assert plain.flags & dns.flags.TC and plain.answer == []
    big = ask(path, "many", use_edns=0, payload=1232)
    assert big.edns == 0 and not big.flags & dns.flags.TC
    assert len(addresses(big)) == 40
    assert len(addresses(ask(path, "many", tcp=True))) == 40
    assert ask(path, "web", use_edns=1).rcode() == dns.rcode.BADVERS


def test_search_domain_suffix_answered_locally(dns_server, make_netns):
    path = make_netns()
    dns_server.add_endpoint("n1", WEB, "proj-web-1", aliases=["web"], ipv4="10.88.0.2")
    dns_server.add_endpoint("n1", CLIENT, "proj-client-1", ipv4="10.88.0.4")
    dns_server.add_scope(CLIENT, path, search=["corp.example"])
    assert addresses(ask(path, "web.corp.example")) == ["10.88.0.2"]


def test_scope_lifecycle(dns_server, make_netns, project):
    with pytest.raises(Conflict):
        dns_server.add_scope(CLIENT, project)
    dns_server.lt.call(dns_server.server.remove_scope, CLIENT)
    with pytest.raises(dns.exception.Timeout):
        ask(project, "web", timeout=0.5)  # nothing listens any more (the netns refuses or drops)
    dns_server.add_scope(CLIENT, project)
    assert addresses(ask(project, "web")) == ["10.88.0.2"]


@pytest.mark.skipif(not shutil.which("nsenter"), reason="util-linux nsenter is not installed")
def test_busybox_nslookup_from_inside_the_netns(project):
    out = subprocess.run(["nsenter", f"--net={project}", "/bin/busybox", "nslookup", "web", "127.0.0.11"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "10.88.0.2" in out.stdout
    assert "fd00:88::2" in out.stdout
    bad = subprocess.run(["nsenter", f"--net={project}", "/bin/busybox", "nslookup", "nosuch", "127.0.0.11"],
                         capture_output=True, text=True, timeout=20)
    assert bad.returncode != 0
    assert "NXDOMAIN" in bad.stdout + bad.stderr


def test_second_scope_in_the_same_netns_conflicts(dns_server, project):
    with pytest.raises(Conflict):
        dns_server.add_scope("other" + "0" * 59, project)
    assert addresses(ask(project, "web")) == ["10.88.0.2"]  # the first scope is untouched


def _bind_53(path: str) -> list[str]:
    """Try to bind 0.0.0.0:53 (UDP and TCP) in the netns as a container's own DNS server would."""
    import socket

    from tests.runtime.dns.support import in_netns

    def _try() -> list[str]:
        got = []
        for kind, name in ((socket.SOCK_DGRAM, "udp"), (socket.SOCK_STREAM, "tcp")):
            with socket.socket(socket.AF_INET, kind) as sock:
                try:
                    sock.bind(("0.0.0.0", 53))
                    got.append(name)
                except OSError:
                    pass
        return got

    return in_netns(path, _try)


@pytest.mark.skipif(not shutil.which("nft"), reason="nftables is not installed (nft lists the rule here)")
def test_redirect_mode_leaves_port_53_to_the_container(dns_server, make_netns):
    plain, redirected = make_netns(), make_netns()
    dns_server.add_endpoint("n1", WEB, "proj-web-1", aliases=["web"], ipv4="10.88.0.2")
    dns_server.add_endpoint("n1", CLIENT, "proj-client-1", ipv4="10.88.0.4")
    dns_server.add_endpoint("n1", DB, "proj-db-1", ipv4="10.88.0.3")
    assert dns_server.lt.run(dns_server.server.add_scope(CLIENT, plain, [], redirect=False)) == ("127.0.0.11", 53)
    address, port = dns_server.lt.run(dns_server.server.add_scope(DB, redirected, [], redirect=True))
    assert address == "127.0.0.11" and port != 53
    assert _bind_53(plain) == []  # the embedded server holds it
    assert _bind_53(redirected) == ["udp", "tcp"]
    # Clients still ask 127.0.0.11:53 and get answers, over UDP and TCP, through the DNAT.
    assert addresses(ask(redirected, "web")) == ["10.88.0.2"]
    assert addresses(ask(redirected, "web", tcp=True)) == ["10.88.0.2"]
    # Re-adding the scope (a daemon restart) replaces the rule with the new port, and a client that keeps
    # its source port (so its old conntrack mapping) reaches the new one too.
    import dns.message
    import dns.query

    from tests.runtime.dns.support import netns_socket
    keeper = netns_socket(redirected)
    keeper.setblocking(False)
    with keeper:
        query = dns.message.make_query("web", "A")
        assert addresses(dns.query.udp(query, "127.0.0.11", sock=keeper, timeout=5)) == ["10.88.0.2"]
        dns_server.lt.call(dns_server.server.remove_scope, DB)
        _, port2 = dns_server.lt.run(dns_server.server.add_scope(DB, redirected, [], redirect=True))
        # The old mapping is dropped just after add_scope returns; a real client retries until then.
        for _attempt in range(20):
            try:
                reply = dns.query.udp(query, "127.0.0.11", sock=keeper, timeout=0.5)
                break
            except dns.exception.Timeout:
                continue
        else:
            pytest.fail("a client keeping its source port never reached the new scope")
        assert addresses(reply) == ["10.88.0.2"]
    assert addresses(ask(redirected, "web")) == ["10.88.0.2"]
    listing = subprocess.run(["nsenter", f"--net={redirected}", "nft", "list", "table", "ip", "pycompose_dns"],
                             capture_output=True, text=True, check=True).stdout
    assert f"127.0.0.11:{port2}" in listing and listing.count("dnat to") == 2


def test_no_scope_in_the_hosts_own_netns(dns_server):
    from runtime.errors import InvalidArgument
    with pytest.raises(InvalidArgument):
        dns_server.add_scope(CLIENT, "/proc/self/ns/net")


def test_redirect_falls_back_to_port_53_without_nftables(dns_server, make_netns, monkeypatch):
    from runtime.errors import Unsupported
    from runtime.network.dns import redirect

    path = make_netns()
    dns_server.add_endpoint("n1", WEB, "proj-web-1", aliases=["web"], ipv4="10.88.0.2")
    dns_server.add_endpoint("n1", CLIENT, "proj-client-1", ipv4="10.88.0.4")

    def _missing() -> None:
        raise Unsupported("libnftables is not installed (simulated)")
    monkeypatch.setattr(redirect, "_libnftables", _missing)
    assert dns_server.lt.run(dns_server.server.add_scope(CLIENT, path, [], redirect=True)) == ("127.0.0.11", 53)
    assert addresses(ask(path, "web")) == ["10.88.0.2"]
