"""Answers from the name table: one query's replies (each answer order pre-built), or "not ours".

Pure functions of the table, the asker and the query bytes; the server (``server.py``) sends, caches and
forwards. Several replicas behind one name are answered in every order (up to 4 addresses) or in 16 random
ones, so the cached replies can be sent round robin.
"""
from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

from runtime.network.dns.records import Records
from runtime.network.dns.wire import (
    CLASS_ANY, CLASS_IN, RCODE_BADVERS, RCODE_NOERROR, RCODE_NOTIMP, RCODE_NXDOMAIN, TYPE_A, TYPE_AAAA, TYPE_ANY,
    TYPE_PTR, Query, build_error, build_reply, encode_name, parse_query,
)

__all__ = ["local_replies", "replies_for"]

_REVERSE = (".in-addr.arpa", ".ip6.arpa")
_rng = random.Random()  # answer orders: our own generator, not the process-wide one


def _variants(v4: Sequence[bytes], v6: Sequence[bytes]) -> list[tuple[list[bytes], list[bytes]]]:
    """Orders to answer in: every permutation for up to 4 addresses, else 16 random shuffles."""
    def orders(addrs: Sequence[bytes]) -> list[list[bytes]]:
        if len(addrs) <= 1:
            return [list(addrs)]
        if len(addrs) <= 4:
            return [list(p) for p in itertools.permutations(addrs)]
        out = []
        for _ in range(16):
            copy = list(addrs)
            _rng.shuffle(copy)
            out.append(copy)
        return out

    o4, o6 = orders(v4), orders(v6)
    count = max(len(o4), len(o6))
    return [(o4[i % len(o4)], o6[i % len(o6)]) for i in range(count)]


def local_replies(records: Records, ttl: int, asker: str, search_domains: Sequence[str], query: Query,
                  max_size: int | None, *, search: bool = False) -> list[bytes] | None:
    """Replies (one per answer order) from the name table, or ``None`` when the name is not ours.

    ``search``: also take ``web.<search domain>`` for ``web``. That is done only when nothing upstream
    could own the longer name (no upstreams, or they said NXDOMAIN), so no real name is ever shadowed.
    """
    name = query.name
    qtype = query.qtype
    if name.endswith(_REVERSE):
        res = records.resolve_ptr(asker, name)
        if res is None:
            return None
        answers = [(TYPE_PTR, encode_name(t)) for t in res.ptr] if qtype in (TYPE_PTR, TYPE_ANY) else []
        return [build_reply(query, RCODE_NOERROR, answers, ttl, max_size=max_size)]
    res = records.resolve(asker, name)
    if res is None:
        if not search:
            return None
        for domain in search_domains:
            if name.endswith("." + domain):
                res = records.resolve(asker, name[:-len(domain) - 1])
                break
        if res is None:
            return None
    v4 = res.ipv4 if qtype in (TYPE_A, TYPE_ANY) else ()
    v6 = res.ipv6 if qtype in (TYPE_AAAA, TYPE_ANY) else ()
    return [build_reply(query, RCODE_NOERROR, [(TYPE_A, a) for a in o4] + [(TYPE_AAAA, a) for a in o6],
                        ttl, max_size=max_size) for o4, o6 in _variants(v4, v6)]


def replies_for(records: Records, ttl: int, asker: str, search_domains: Sequence[str], has_upstreams: bool,
                data: bytes, udp: bool) -> tuple[Query | None, list[bytes] | None]:
    """(query, local replies); (query, None) means forward; (None, None) means drop (not a query)."""
    query = parse_query(data)
    if query is None:
        return None, None
    max_size = query.udp_size if udp else None
    if query.opcode != 0:
        return query, [build_error(query, RCODE_NOTIMP)]
    if query.edns and query.edns_version > 0:
        return query, [build_error(query, RCODE_BADVERS)]
    if query.qclass in (CLASS_IN, CLASS_ANY):
        local = local_replies(records, ttl, asker, search_domains, query, max_size, search=not has_upstreams)
        if local is not None:
            return query, local
    if not has_upstreams:
        return query, [build_reply(query, RCODE_NXDOMAIN, [], ttl, max_size=max_size)]
    return query, None
