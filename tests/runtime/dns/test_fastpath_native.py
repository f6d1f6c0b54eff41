"""The native cache-hit thread by itself (``runtime/native/dnsfast.c`` through ``fastpath.FastPath``).

Plain UDP sockets on 127.0.0.1 with kernel-chosen ports; no namespaces, no server around it.
"""
from __future__ import annotations

import os
import re
import select
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from runtime import native
from runtime.network.dns.fastpath import FastPath, parse_miss

QUERY = bytes.fromhex("0100 0001 0000 0000 0000") + b"\x03web\x00\x00\x01\x00\x01"  # after the 2-byte id


@pytest.fixture
def fast() -> Iterator[FastPath]:
    if native.dns_fastpath_library() is None:
        pytest.skip("the DNS fast path helper cannot be built here (no C compiler)")
    fp = FastPath.create()
    assert fp is not None
    try:
        yield fp
    finally:
        fp.close()


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
    server.bind(("127.0.0.1", 0))
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    client.connect(server.getsockname())
    client.settimeout(5)
    try:
        yield server, client
    finally:
        server.close()
        client.close()


def _miss(fp: FastPath) -> tuple[int, tuple[str, int], bytes]:
    assert select.select([fp.miss], [], [], 5)[0], "the query was handed to the loop"
    parsed = parse_miss(fp.miss.recv(8192))
    assert parsed is not None
    return parsed


def _ask(client: socket.socket, qid: int) -> bytes:
    client.send(struct.pack("!H", qid) + QUERY)
    return client.recv(4096)


def test_miss_then_cached_reply_with_the_askers_id(fast, pair):
    server, client = pair
    tag = fast.add(server)
    client.send(b"\x12\x34" + QUERY)
    got_tag, addr, data = _miss(fast)
    assert (got_tag, addr, data) == (tag, client.getsockname(), b"\x12\x34" + QUERY)
    assert fast.put(tag, data[2:], [b"REPLY-ONE"])
    for qid in (1, 0xBEEF, 7):
        assert _ask(client, qid) == struct.pack("!H", qid) + b"REPLY-ONE"
    assert fast.stats() == (3, 1)


def test_answer_orders_go_round_robin(fast, pair):
    server, client = pair
    tag = fast.add(server)
    assert fast.put(tag, QUERY, [b"order-a", b"order-b", b"order-c"])
    seen = [_ask(client, i)[2:] for i in range(6)]
    assert seen == [b"order-a", b"order-b", b"order-c"] * 2


def test_clear_and_remove(fast, pair):
    server, client = pair
    tag = fast.add(server)
    assert fast.put(tag, QUERY, [b"old"])
    assert _ask(client, 1)[2:] == b"old"
    fast.clear()
    client.send(b"\x00\x02" + QUERY)
    assert _miss(fast)[0] == tag, "after clear() the same query goes to the loop again"
    assert fast.put(tag, QUERY, [b"new"])
    assert _ask(client, 3)[2:] == b"new"
    fast.clear(tag)
    client.send(b"\x00\x04" + QUERY)
    assert _miss(fast)[0] == tag
    fast.remove(tag)
    assert not fast.put(tag, QUERY, [b"gone"]), "a removed scope takes no entries"
    client.send(b"\x00\x05" + QUERY)
    assert select.select([server], [], [], 5)[0], "a removed socket is no longer read by the thread"
    assert server.recv(4096) == b"\x00\x05" + QUERY
    assert not select.select([fast.miss], [], [], 0)[0]


def test_short_and_oversized_datagrams_go_to_the_loop(fast, pair):
    server, client = pair
    tag = fast.add(server)
    client.send(b"\x00\x01\x00")
    assert _miss(fast)[2] == b"\x00\x01\x00"
    assert fast.put(tag, QUERY, [b"x"])
    assert not fast.put(tag, QUERY + b"1", [b"y" * 5000]), "a reply over the helper's size is not cached"
    assert not fast.put(tag, QUERY + b"2", [b"v"] * (FastPath.MAX_VARIANTS + 1))


def test_tags_of_two_sockets_and_reuse_of_a_slot(fast, pair):
    server, client = pair
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
    other.bind(("127.0.0.1", 0))
    asker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    asker.settimeout(5)
    with other, asker:
        tag1, tag2 = fast.add(server), fast.add(other)
        assert tag1 != tag2
        fast.put(tag1, QUERY, [b"one"])
        fast.put(tag2, QUERY, [b"two"])
        assert _ask(client, 1)[2:] == b"one"
        asker.sendto(b"\x00\x09" + QUERY, other.getsockname())
        assert asker.recv(4096) == b"\x00\x09two"
        fast.remove(tag1)
        tag3 = fast.add(server)
        assert tag3 != tag1, "a reused slot gets a new generation: late misses of the old scope are told apart"
        client.send(b"\x00\x0a" + QUERY)
        assert _miss(fast)[0] == tag3


def test_only_ipv4_sockets(fast):
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        with pytest.raises(OSError):
            fast.add(sock)


def _thread_slices() -> dict[str, int]:
    out = {}
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/sched") as f:
                for line in f:
                    if line.startswith("se.slice"):
                        out[task] = int(line.split(":")[1])
        except OSError:
            continue
    return out


def test_the_serving_thread_asks_for_short_slices(monkeypatch):
    if native.dns_fastpath_library() is None:
        pytest.skip("the DNS fast path helper cannot be built here (no C compiler)")
    release = tuple(int(x) for x in re.findall(r"\d+", os.uname().release)[:2])
    if release < (6, 12):
        pytest.skip(f"kernel {os.uname().release}: custom slices for normal threads came in 6.12")
    if not _thread_slices():
        pytest.skip("no se.slice in /proc/<pid>/task/<tid>/sched (kernel without SCHED_DEBUG)")
    monkeypatch.delenv("PYCOMPOSE_DNS_SLICE_US", raising=False)
    fp = FastPath.create()
    assert fp is not None
    try:
        deadline = time.monotonic() + 5
        while 100_000 not in _thread_slices().values() and time.monotonic() < deadline:
            select.select([], [], [], 0.01)  # poll the thread's scheduler state until it has started
        slices = _thread_slices()
    finally:
        fp.close()
    assert 100_000 in slices.values(), slices
    assert slices[str(threading.get_native_id())] != 100_000, "only the serving thread changed"
