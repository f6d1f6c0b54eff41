"""Firewall rules of bridge networks, in our own nftables table (``inet pycompose`` by default).

Per network, in one nft transaction:
- its bridge joins the set ``bridges``;
- forward chain: traffic entering the bridge and leaving through another of our bridges is dropped (isolation);
  an internal network drops everything entering or leaving it through any other interface (no way out);
  ``enable_icc=false`` drops bridged traffic between its containers (seen only with br_netfilter);
- postrouting chain: traffic from its subnets leaving through another interface is masqueraded (non-internal).
Per container with published ports, in one transaction too (planned by :mod:`runtime.network.portnat`, written by
:mod:`runtime.network.nftports`): DNAT rules in the
``prerouting`` and ``output`` nat chains and their accepts at the head of ``forward``, with the comment
``pycompose:port:<container id>``.
Every network rule carries the comment ``pycompose:<network id>``; removing a network deletes its rules by handle and
the table itself once it is empty. No other table is ever read or written. All edits hold the host lock.
Scripts run in-process through libnftables (``nftlib``), or through the ``nft`` command where it is missing.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runtime.errors import Unsupported
from runtime.network.hostlock import host_lock
from runtime.network.ipam import IPNetwork
from runtime.network.nftlib import run_nft
from runtime.network.nftports import BASE_CHAINS, NftPorts, quote
from runtime.network.portnat import PortRules, owner_of, port_comment

__all__ = ["BridgeRules", "Firewall", "DEFAULT_TABLE"]

DEFAULT_TABLE = "pycompose"


@dataclass(frozen=True)
class BridgeRules:
    network_id: str
    bridge: str
    subnets: tuple[IPNetwork, ...]
    internal: bool = False
    masquerade: bool = True
    icc: bool = True


class Firewall:
    """Our nftables table: add and remove the rules of one bridge network at a time."""

    def __init__(self, table: str = DEFAULT_TABLE, nft: str | None = None) -> None:
        """``nft`` names an ``nft`` command to run instead of libnftables in-process (the default)."""
        self.table = table
        self._command = nft
        self._ports = NftPorts(table, lambda script: self._run(["-f", "-"], script),
                               lambda script, as_json: run_nft(script, json=as_json, handles=True,
                                                               command=self._command, check=False))

    def _run(self, args: Sequence[str], script: str | None = None) -> str:
        """``args`` as for the ``nft`` command: ``["-f", "-"]`` with ``script``, or one command's words."""
        return run_nft(script if script is not None else " ".join(args) + "\n", command=self._command)

    def _comment(self, network_id: str) -> str:
        return f"pycompose:{network_id}"

    def _base(self, have: frozenset[str] | set[str] = frozenset()) -> list[str]:
        """The table, set and base chains, but for the chains in ``have`` (there already: naming an existing
        base chain again makes the kernel wait a grace period, ~15 ms)."""
        t = f"inet {self.table}"
        return [f"add table {t}", f"add set {t} bridges {{ type ifname; }}"] + \
            [f"add chain {t} {name} {{ {BASE_CHAINS[name]} }}" for name in ("forward", "postrouting")
             if name not in have]

    def render(self, rules: BridgeRules, have: frozenset[str] | set[str] = frozenset()) -> str:
        """The nft script adding ``rules`` (public so tests and debugging can read it); ``have``: the base
        chains that exist."""
        t, br, c = f"inet {self.table}", quote(rules.bridge), quote(self._comment(rules.network_id))
        lines = self._base(have) + [f"add element {t} bridges {{ {br} }}"]
        if rules.internal:
            lines += [f"add rule {t} forward iifname {br} oifname != {br} drop comment {c}",
                      f"add rule {t} forward oifname {br} iifname != {br} drop comment {c}"]
        else:
            lines.append(f"add rule {t} forward iifname {br} oifname != {br} oifname @bridges drop comment {c}")
        if not rules.icc:
            lines.append(f"add rule {t} forward iifname {br} oifname {br} drop comment {c}")
        if rules.masquerade and not rules.internal:
            for net in rules.subnets:
                fam = "ip" if net.version == 4 else "ip6"
                lines.append(f"add rule {t} postrouting {fam} saddr {net} oifname != {br} masquerade comment {c}")
        return "\n".join(lines) + "\n"

    def add(self, rules: BridgeRules) -> None:
        with host_lock():
            self._run(["-f", "-"], self.render(rules, self._ports.chains()))

    # -- published ports (runtime.network.nftports) ------------------------------------------------------------
    def render_ports(self, rules: PortRules) -> str:
        """The nft script adding a container's DNAT rules ("" when it has none)."""
        return self._ports.render(rules)

    def add_ports(self, rules: PortRules) -> None:
        """Install a container's DNAT rules (one transaction; nothing when it has no forwards)."""
        self._ports.add(rules)

    def remove_ports(self, container_id: str) -> None:
        """Delete a container's DNAT rules."""
        self._ports.remove(container_id)

    def port_owners(self) -> set[str]:
        """The containers that have DNAT rules in our table."""
        return {cid for o in self.listing() if "rule" in o and (cid := owner_of(o["rule"].get("comment")))}

    def port_rules_of(self, container_id: str) -> list[dict[str, Any]]:
        comment = port_comment(container_id)
        return [o["rule"] for o in self.listing() if "rule" in o and o["rule"].get("comment") == comment]

    def listing(self) -> list[dict[str, Any]]:
        """Our table as nft's JSON objects (``[]`` when it does not exist)."""
        try:
            out = run_nft(f"list table inet {self.table}\n", json=True, handles=True, command=self._command,
                          check=False)
        except Unsupported:
            return []
        if not out.strip():
            return []
        return [obj for obj in json.loads(out).get("nftables", []) if "metainfo" not in obj]

    def rules_of(self, network_id: str) -> list[dict[str, Any]]:
        comment = self._comment(network_id)
        return [o["rule"] for o in self.listing() if "rule" in o and o["rule"].get("comment") == comment]

    def bridges(self) -> list[str]:
        for obj in self.listing():
            if "set" in obj and obj["set"]["name"] == "bridges":
                return [e if isinstance(e, str) else str(e) for e in obj["set"].get("elem", [])]
        return []

    def remove(self, network_id: str, bridge: str) -> None:
        """Delete the network's rules and set element; drop the table when nothing of anyone is left in it."""
        with host_lock():
            objs = self.listing()
            if not objs:
                return
            t = f"inet {self.table}"
            comment = self._comment(network_id)
            lines = [f"delete rule {t} {o['rule']['chain']} handle {o['rule']['handle']}"
                     for o in objs if "rule" in o and o["rule"].get("comment") == comment]
            members: list[str] = next((o["set"].get("elem", []) for o in objs
                                       if "set" in o and o["set"]["name"] == "bridges"), [])
            if bridge in members:
                lines.append(f"delete element {t} bridges {{ {quote(bridge)} }}")
            others = [o for o in objs if "rule" in o and o["rule"].get("comment") != comment]
            if not others and set(members) <= {bridge}:
                lines = [f"delete table {t}"]
            if lines:
                self._run(["-f", "-"], "\n".join(lines) + "\n")
