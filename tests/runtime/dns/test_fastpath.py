"""The UDP hot path under load: many queries in flight from two scopes, and table changes seen at once.

Run against both servers of the ``dns_server`` fixture: with the native cache-hit thread (``fastpath.py``,
``runtime/native/dnsfast.c``) and with the loop answering alone.
"""
from __future__ import annotations

import select
import socket
import threading
import time

import dns.message
import dns.rcode
import pytest

from tests.runtime.dns.support import DNS_ADDR, addresses, ask, netns_socket

pytestmark = pytest.mark.root

CLIENT_A = "a" * 64
CLIENT_B = "b" * 64


@pytest.fixture
def two_scopes(dns_server, make_netns):
    """Two askers on separate networks; 'web' is 10.1.0.2 for A, 10.2.0.2 (and 'api' 3 replicas) for B."""
    path_a, path_b = make_netns(), make_netns()
    dns_server.add_endpoint("n1", "1" * 64, "one-web-1", aliases=["web"], ipv4="10.1.0.2")
    dns_server.add_endpoint("n1", CLIENT_A, "one-client-1", ipv4="10.1.0.9")
    dns_server.add_endpoint("n2", "2" * 64, "two-web-1", aliases=["web"], ipv4="10.2.0.2")
    for i in range(3):
        dns_server.add_endpoint("n2", f"{i + 3}" * 64, f"two-api-{i + 1}", aliases=["api"], ipv4=f"10.2.0.{10 + i}")
    dns_server.add_endpoint("n2", CLIENT_B, "two-client-1", ipv4="10.2.0.9")
    dns_server.add_scope(CLIENT_A, path_a)
    dns_server.add_scope(CLIENT_B, path_b)
    return path_a, path_b


def _query(qid: int, name: str) -> bytes:
    msg = dns.message.make_query(name, "A")
    msg.id = qid
    return msg.to_wire()


def _flood(path: str, sockets: int, per_socket: int, names: list[str]) -> list[tuple[socket.socket, dict]]:
    """Send every query at once (no waiting) from ``sockets`` sockets; what was sent on each, by id."""
    out = []
    for _ in range(sockets):
        sock = netns_socket(path)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        sock.connect((DNS_ADDR, 53))
        sock.setblocking(False)
        out.append((sock, {}))
    for i in range(per_socket):
        for sock, sent in out:
            name = names[i % len(names)]
            sent[i] = name
            sock.send(_query(i, name))
    return out


def _collect(flows: list[tuple[socket.socket, dict]], deadline: float) -> list[tuple[socket.socket, dict, dict]]:
    """Read replies until every query is answered or the deadline passes; (socket, sent, replies by id)."""
    got: dict[socket.socket, dict[int, dns.message.Message]] = {sock: {} for sock, _ in flows}
    want = {sock: len(sent) for sock, sent in flows}
    while any(len(got[s]) < want[s] for s in want) and time.monotonic() < deadline:
        ready, _, _ = select.select([s for s in want if len(got[s]) < want[s]], [], [], 0.2)
        for sock in ready:
            while True:
                try:
                    wire = sock.recv(4096)
                except BlockingIOError:
                    break
                msg = dns.message.from_wire(wire)
                assert msg.id not in got[sock], f"two replies for id {msg.id}"
                got[sock][msg.id] = msg
    return [(sock, sent, got[sock]) for sock, sent in flows]


def test_many_in_flight_from_two_scopes_get_their_own_answers(dns_server, two_scopes):
    path_a, path_b = two_scopes
    flows_a = _flood(path_a, 4, 150, ["web", "one-web-1", "nosuch"])
    flows_b = _flood(path_b, 4, 150, ["web", "api", "two-web-1"])
    try:
        results = _collect(flows_a + flows_b, time.monotonic() + 20)
        expect = {
            path_a: {"web": ["10.1.0.2"], "one-web-1": ["10.1.0.2"], "nosuch": None},
            path_b: {"web": ["10.2.0.2"], "api": ["10.2.0.10", "10.2.0.11", "10.2.0.12"],
                     "two-web-1": ["10.2.0.2"]},
        }
        api_orders = set()
        for i, (_, sent, replies) in enumerate(results):
            table = expect[path_a if i < len(flows_a) else path_b]
            assert set(replies) == set(sent), "every query answered, on the socket that asked"
            for qid, name in sent.items():
                reply = replies[qid]
                assert reply.question[0].name.to_text(omit_final_dot=True) == name
                if table[name] is None:
                    assert reply.rcode() == dns.rcode.NXDOMAIN
                else:
                    assert reply.rcode() == dns.rcode.NOERROR
                    assert sorted(addresses(reply)) == table[name]
                    if name == "api":
                        api_orders.add(tuple(addresses(reply)))
        assert len(api_orders) > 1, "replicas answered in more than one order"
    finally:
        for sock, _ in flows_a + flows_b:
            sock.close()
    fast = dns_server.server.fast
    if dns_server.server.scope(CLIENT_A).tag is not None:
        assert fast is not None
        hits, misses = fast.stats()
        # Every datagram went one way or the other; repeats of a query answered once came from the cache.
        assert hits + misses == 1200 and hits > 0


def test_a_change_is_seen_by_the_very_next_query_while_the_cache_is_hot(dns_server, two_scopes):
    """A flood keeps 'web' cached; after each change returns, a new query must see the new table."""
    path_a, _ = two_scopes
    stop = threading.Event()
    flooder = netns_socket(path_a)
    flooder.connect((DNS_ADDR, 53))
    flooder.settimeout(1)
    answered = [0]

    def _flood() -> None:
        qid = 0
        while not stop.is_set():
            qid = (qid + 1) & 0xFFFF
            flooder.send(_query(qid, "web"))
            try:
                flooder.recv(4096)
                answered[0] += 1
            except OSError:
                pass

    thread = threading.Thread(target=_flood, daemon=True)
    thread.start()
    try:
        for i in range(20):
            ip = f"10.1.1.{i + 1}"
            dns_server.add_endpoint("n1", "1" * 64, "one-web-1", aliases=["web"], ipv4=ip)
            assert addresses(ask(path_a, "web")) == [ip]
        dns_server.records("remove_endpoint", "n1", "1" * 64)
        assert ask(path_a, "web").rcode() == dns.rcode.NXDOMAIN
        dns_server.add_endpoint("n1", "1" * 64, "one-web-1", aliases=["web"], ipv4="10.1.0.2")
        assert addresses(ask(path_a, "web")) == ["10.1.0.2"]
        dns_server.records("remove_endpoint", "n1", CLIENT_A)  # the asker leaves the network
        assert ask(path_a, "web").rcode() == dns.rcode.NXDOMAIN
    finally:
        stop.set()
        thread.join()
        flooder.close()
    assert answered[0] > 20, "the flood kept the cache in use"


def test_scopes_removed_and_added_reuse_no_stale_socket(dns_server, make_netns, two_scopes):
    """A removed scope's socket is closed only after the fast path let go of it; a new scope answers."""
    path_a, path_b = two_scopes
    assert addresses(ask(path_a, "web")) == ["10.1.0.2"]
    dns_server.lt.call(dns_server.server.remove_scope, CLIENT_A)
    path_c = make_netns()
    dns_server.add_scope(CLIENT_A, path_c)
    assert addresses(ask(path_c, "web")) == ["10.1.0.2"]
    assert addresses(ask(path_b, "web")) == ["10.2.0.2"]
    sock = netns_socket(path_a)
    with sock:
        sock.settimeout(0.5)
        sock.connect((DNS_ADDR, 53))
        sock.send(_query(1, "web"))
        with pytest.raises(OSError):  # nobody listens there any more: refused or no reply
            sock.recv(4096)
