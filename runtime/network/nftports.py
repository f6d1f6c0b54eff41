"""A container's published-port DNAT rules in our nftables table (what :mod:`runtime.network.portnat` plans).

One transaction adds them: rules appended to the base chains ``prerouting`` and ``output`` (nat) and inserted
at the head of ``forward`` (before the isolation drops), each with the comment ``pycompose:port:<container
id>``. The removal lists those three chains (text, with handles; a few ms even with hundreds of containers,
where listing the whole table as JSON took 100 ms) and deletes the rules carrying the comment in one
transaction.

Costs measured on this kernel: an ``add chain`` naming a base chain that exists makes the kernel wait a grace
period (about 15 ms), and so does a transaction the kernel refuses (a missing chain), while making a new
chain or appending rules takes well under a millisecond; so the chains that exist are read first (``list
chains``: 0.07 ms) and only the missing ones are made, in the same transaction as the rules. Any transaction
that deletes something also waits a grace period (12-16 ms), whatever it deletes: rules, chains or set
elements. Echoing the rules' handles on add (``nft -e``) would spare the listing but makes libnftables fetch
the whole ruleset first (18 ms with 200 containers' rules), on the start path.
"""
from __future__ import annotations

import json
from collections.abc import Callable

from runtime.network.hostlock import host_lock
from runtime.network.portnat import PortRules, port_comment

__all__ = ["NftPorts", "BASE_CHAINS", "quote"]

# Our table's base chains, for network and port rules alike: one spec each (naming a base chain that exists with
# another spec is an error, and naming it with the same one makes the kernel wait a grace period)
BASE_CHAINS = {"forward": "type filter hook forward priority filter - 1; policy accept;",
               "postrouting": "type nat hook postrouting priority srcnat; policy accept;",
               "prerouting": "type nat hook prerouting priority dstnat; policy accept;",
               "output": "type nat hook output priority -100; policy accept;"}


def quote(name: str) -> str:
    """An interface name or comment as an nft string."""
    return '"' + name.replace('"', "") + '"'


class NftPorts:
    """Adds and removes containers' DNAT rules in table ``inet <table>`` through ``run(script)``, which raises
    :class:`EngineError` when nft refuses, and ``query(script, as_json)`` (handles shown), which returns ``""``
    instead."""

    CHAINS = ("prerouting", "output", "forward")

    def __init__(self, table: str, run: Callable[[str], str], query: Callable[[str, bool], str]) -> None:
        self.table = table
        self._run = run
        self._query = query

    def base(self, have: frozenset[str] | set[str] = frozenset()) -> list[str]:
        """The table and the base chains the rules go in, but for the chains in ``have`` (already there)."""
        t = f"inet {self.table}"
        return [f"add table {t}"] + [f"add chain {t} {name} {{ {BASE_CHAINS[name]} }}"
                                     for name in ("forward", "prerouting", "output") if name not in have]

    def chains(self) -> set[str]:
        """The names of our table's chains (a listing of chains alone: well under a millisecond)."""
        out = self._query("list chains inet\n", True)
        if not out.strip():
            return set()
        return {o["chain"]["name"] for o in json.loads(out).get("nftables", [])
                if "chain" in o and o["chain"].get("table") == self.table}

    def body(self, rules: PortRules) -> list[str]:
        """The container's rules, without the base chains ([] when it has no forwards)."""
        if not rules.forwards:
            return []
        t, br, c = f"inet {self.table}", quote(rules.bridge), quote(port_comment(rules.container_id))
        lines = []
        accepts: dict[str, None] = {}
        for f in rules.forwards:
            fam, nfp = ("ip6", "ipv6") if f.version == 6 else ("ip", "ipv4")
            to = f"[{f.target}]:{f.target_port}" if f.version == 6 else f"{f.target}:{f.target_port}"
            match = f"meta nfproto {nfp} " + (f"{fam} daddr {f.host_ip} " if f.host_ip else "") + \
                f"{f.protocol} dport {f.host_port}"
            not_lo = "" if f.host_ip else f" {fam} daddr != {'::1' if f.version == 6 else '127.0.0.0/8'}"
            lines += [f"add rule {t} prerouting {match} iifname != {br} fib daddr type local dnat {fam} to {to} "
                      f"comment {c}",
                      f"add rule {t} output {match}{not_lo} fib daddr type local dnat {fam} to {to} comment {c}"]
            accepts[f"insert rule {t} forward oifname {br} {fam} daddr {f.target} {f.protocol} dport "
                    f"{f.target_port} ct status dnat accept comment {c}"] = None
            accepts[f"insert rule {t} forward iifname {br} {fam} saddr {f.target} {f.protocol} sport "
                    f"{f.target_port} ct status dnat accept comment {c}"] = None
        return lines + list(accepts)

    def render(self, rules: PortRules) -> str:
        """The whole script, base chains included ("" when there are no forwards)."""
        body = self.body(rules)
        return "\n".join(self.base() + body) + "\n" if body else ""

    def add(self, rules: PortRules) -> None:
        body = self.body(rules)
        if not body:
            return
        with host_lock():
            have = self.chains()
            head = self.base(have) if not set(self.CHAINS) <= have else []
            self._run("\n".join(head + body) + "\n")

    def handles(self, container_id: str) -> list[tuple[str, int]]:
        """(chain, handle) of the container's rules."""
        mark = f'comment "{port_comment(container_id)}" # handle '
        found = []
        for chain in self.CHAINS:
            for line in self._query(f"list chain inet {self.table} {chain}\n", False).splitlines():
                if mark in line:
                    found.append((chain, int(line.rsplit(" ", 1)[1])))
        return found

    def remove(self, container_id: str) -> None:
        with host_lock():
            found = self.handles(container_id)
            if found:
                self._run("".join(f"delete rule inet {self.table} {chain} handle {h}\n" for chain, h in found))
