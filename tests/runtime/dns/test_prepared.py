"""Scope sockets prepared before the container starts (``DnsServer.prepare``), and the redirect that never
deletes on the start path: a fresh netns gets its table in one transaction, a netns that has one keeps it."""
from __future__ import annotations

import shutil
import socket
import subprocess

import pytest

from tests.runtime.dns.support import DNS_ADDR, addresses, ask, in_netns, listening_on_11

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(not shutil.which("nft"), reason="nftables is not installed (nft lists the table)")]

WEB, CLIENT = "c" * 64, "d" * 64


def _table(path: str) -> str:
    return subprocess.run(["nsenter", f"--net={path}", "nft", "list", "table", "ip", "pycompose_dns"],
                          capture_output=True, text=True, check=True).stdout


def _prepared_done(dns_server, path: str) -> None:
    """Wait (in the loop) until the preparation for ``path`` has finished."""
    dns_server.lt.run(dns_server.server.settle())


def test_prepared_sockets_serve_the_scope_at_once(dns_server, make_netns):
    path = make_netns()
    dns_server.add_endpoint("n1", WEB, "proj-web-1", aliases=["web"], ipv4="10.88.0.2")
    dns_server.add_endpoint("n1", CLIENT, "proj-client-1", ipv4="10.88.0.4")
    dns_server.lt.call(dns_server.server.prepare, path)
    assert dns_server.lt.call(dns_server.server.prepared) == [path]
    _prepared_done(dns_server, path)
    bound = listening_on_11(path)
    assert {p for p, _ in bound} == {"udp", "tcp"} and 53 not in {port for _, port in bound}
    listing = _table(path)
    assert all(f"{DNS_ADDR}:{port}" in listing for _, port in bound)  # the redirect leads to them
    # Start: the scope takes exactly those sockets; the first query is answered.
    address = dns_server.add_scope(CLIENT, path, [])
    assert ("udp", address[1]) in bound
    assert dns_server.lt.call(dns_server.server.prepared) == []
    assert addresses(ask(path, "web")) == ["10.88.0.2"]
    assert addresses(ask(path, "web", tcp=True)) == ["10.88.0.2"]
    assert listening_on_11(path) == bound


def test_discarded_preparation_closes_its_sockets(dns_server, make_netns):
    path = make_netns()
    dns_server.lt.call(dns_server.server.prepare, path)
    dns_server.lt.call(dns_server.server.discard_prepared, path)  # maybe before its work is done
    _prepared_done(dns_server, path)
    assert listening_on_11(path) == set()
    assert dns_server.lt.call(dns_server.server.prepared) == []


def test_a_netns_whose_file_went_is_swept(dns_server, make_netns, tmp_path):
    from runtime import linux

    kept = make_netns()
    # A netns of our own, named by a bind mount we remove (as a failed create removes its sandbox).
    gone = tmp_path / "ns"
    gone.touch()
    linux.mount(kept, str(gone), None, linux.MS_BIND)
    try:
        dns_server.lt.call(dns_server.server.prepare, str(gone))
        _prepared_done(dns_server, str(gone))
        assert len(listening_on_11(kept)) == 2  # the same netns, seen through the file that stays
    finally:
        linux.umount(str(gone), linux.MNT_DETACH)
    other = make_netns()
    dns_server.lt.call(dns_server.server.prepare, other)  # any call sweeps
    assert dns_server.lt.call(dns_server.server.prepared) == [other]
    _prepared_done(dns_server, other)
    assert listening_on_11(kept) == set()


def test_a_second_scope_keeps_the_table_and_its_ports(dns_server, make_netns):
    path = make_netns()
    dns_server.add_endpoint("n1", WEB, "proj-web-1", aliases=["web"], ipv4="10.88.0.2")
    dns_server.add_endpoint("n1", CLIENT, "proj-client-1", ipv4="10.88.0.4")
    first = dns_server.add_scope(CLIENT, path, [])
    listing = _table(path)
    dns_server.lt.call(dns_server.server.remove_scope, CLIENT)  # the container stopped
    assert listening_on_11(path) == set()
    again = dns_server.add_scope(CLIENT, path, [])  # started again: same ports, the table as it was
    assert again == first and _table(path) == listing
    assert addresses(ask(path, "web")) == ["10.88.0.2"]


def test_a_taken_port_moves_the_redirect(dns_server, make_netns):
    path = make_netns()
    dns_server.add_endpoint("n1", WEB, "proj-web-1", aliases=["web"], ipv4="10.88.0.2")
    dns_server.add_endpoint("n1", CLIENT, "proj-client-1", ipv4="10.88.0.4")
    _, port = dns_server.add_scope(CLIENT, path, [])
    dns_server.lt.call(dns_server.server.remove_scope, CLIENT)
    # Meanwhile a program of the container took the old port (any address: 0.0.0.0).
    squatter = in_netns(path, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    with squatter:
        squatter.bind(("0.0.0.0", port))
        _, moved = dns_server.add_scope(CLIENT, path, [])
        assert moved != port
        listing = _table(path)
        assert f"{DNS_ADDR}:{moved}" in listing and listing.count("dnat to") == 2
        assert addresses(ask(path, "web")) == ["10.88.0.2"]
        assert squatter.getsockname() == ("0.0.0.0", port)  # the program keeps its port


def test_redirect_ports_parse_only_our_two_rules():
    from runtime.network.dns.redirect import redirect_ports, redirect_script

    ours = redirect_script(DNS_ADDR, 40001, 40002)
    assert redirect_ports(ours, DNS_ADDR) == (40001, 40002)
    assert redirect_ports(ours, "127.0.0.12") is None  # another address: replaced, not reused
    assert redirect_ports(ours.replace("tcp dport 53", "tcp dport 54"), DNS_ADDR) is None
    assert redirect_ports(ours + f"    ip daddr {DNS_ADDR} udp dport 53 dnat to {DNS_ADDR}:1\n", DNS_ADDR) is None
