"""Firewall rules of bridge networks through iptables, for hosts without ``nft`` (same behaviour as ``nat``).

Only our own chains are written, each reached by one jump rule from a built-in chain:
- filter ``PYC-<table>-FWD`` (jumped to from FORWARD): internal networks drop everything in or out through
  another interface; other networks send traffic leaving for another interface into ``PYC-<table>-ISO``, which
  drops it when it goes out through one of our bridges (isolation, two stages as no sets exist here);
  ``enable_icc=false`` drops bridged traffic between the network's containers;
- nat ``PYC-<table>-POST`` (jumped to from POSTROUTING): masquerade of the subnets leaving through another
  interface (non-internal networks);
- published ports (:mod:`runtime.network.portnat`): nat ``PYC-<table>-DNAT``, jumped to from PREROUTING for a
  local destination and from OUTPUT for a local one outside loopback (Docker's ``DOCKER`` chain), DNATs each
  port not coming from the container's own bridge; the DNAT'd connection is accepted at the head of the
  forward chain. These rules carry ``pycompose:port:<container id>``.
Every rule carries the comment ``pycompose:<network id>`` (the jumps ``pycompose:<table>``); a rule is added only
when ``-C`` says it is absent, so adding twice is harmless. When the last network's rules are removed, the jumps
and chains go too. IPv6 subnets get the same rules through ip6tables. All edits hold the host lock.
"""
from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Sequence

from runtime.errors import EngineError, Unsupported
from runtime.network.hostlock import host_lock
from runtime.network.nat import DEFAULT_TABLE, BridgeRules
from runtime.network.portnat import PortRules, owner_of, port_comment

__all__ = ["IptablesFirewall"]

_MAX_CHAIN = 28  # iptables' limit on chain names (29 bytes with the NUL)


class IptablesFirewall:
    """Our iptables chains: add and remove the rules of one bridge network at a time."""

    def __init__(self, table: str = DEFAULT_TABLE, iptables: str | None = None,
                 ip6tables: str | None = None) -> None:
        self.table = table
        stem = f"PYC-{table[:_MAX_CHAIN - 9]}"
        self.forward_chain = f"{stem}-FWD"
        self.isolation_chain = f"{stem}-ISO"
        self.postrouting_chain = f"{stem}-POST"
        self.dnat_chain = f"{stem}-DNAT"
        self._bin = {4: iptables or shutil.which("iptables"), 6: ip6tables or shutil.which("ip6tables")}

    # -- commands ------------------------------------------------------------------------------------------
    def _cmd(self, family: int) -> str:
        path = self._bin[family]
        if not path:
            tool = "iptables" if family == 4 else "ip6tables"
            raise Unsupported(f"neither nftables ('nft') nor '{tool}' is installed; one is needed for bridge "
                              "network rules")
        return path

    def _run(self, family: int, args: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([self._cmd(family), "-w", *args], capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise EngineError(f"{'ip6tables' if family == 6 else 'iptables'} {' '.join(args)} failed: "
                              f"{proc.stderr.strip()}")
        return proc

    def _save(self, family: int, table: str) -> list[str]:
        path = self._bin[family]
        if not path:
            return []
        proc = subprocess.run([path + "-save", "-t", table],
                              capture_output=True, text=True, check=False)
        return proc.stdout.splitlines() if proc.returncode == 0 else []

    def _comment(self, network_id: str) -> str:
        return f"pycompose:{network_id}"

    def _families(self, rules: BridgeRules) -> list[int]:
        return [4] + ([6] if any(n.version == 6 for n in rules.subnets) else [])

    # -- rules -----------------------------------------------------------------------------------------------
    def render(self, rules: BridgeRules) -> list[tuple[int, str, str, list[str]]]:
        """The rules for ``rules`` as (family, table, chain, match+target args); public for tests and debugging."""
        br, c = rules.bridge, ["-m", "comment", "--comment", self._comment(rules.network_id)]
        fwd, iso, post = self.forward_chain, self.isolation_chain, self.postrouting_chain
        out: list[tuple[int, str, str, list[str]]] = []
        for fam in self._families(rules):
            if rules.internal:
                out += [(fam, "filter", fwd, ["-i", br, "!", "-o", br, *c, "-j", "DROP"]),
                        (fam, "filter", fwd, ["-o", br, "!", "-i", br, *c, "-j", "DROP"])]
            else:
                out += [(fam, "filter", fwd, ["-i", br, "!", "-o", br, *c, "-j", iso])]
            out.append((fam, "filter", iso, ["-o", br, *c, "-j", "DROP"]))
            if not rules.icc:
                out.append((fam, "filter", fwd, ["-i", br, "-o", br, *c, "-j", "DROP"]))
        if rules.masquerade and not rules.internal:
            for net in rules.subnets:
                out.append((net.version, "nat", post, ["-s", str(net), "!", "-o", br, *c, "-j", "MASQUERADE"]))
        return out

    def _ensure_chains(self, family: int) -> None:
        jump = ["-m", "comment", "--comment", f"pycompose:{self.table}"]
        for table, chain, builtin in (("filter", self.isolation_chain, None),
                                      ("filter", self.forward_chain, "FORWARD"),
                                      ("nat", self.postrouting_chain, "POSTROUTING")):
            if self._run(family, ["-t", table, "-n", "-L", chain], check=False).returncode != 0:
                self._run(family, ["-t", table, "-N", chain])
            if builtin and self._run(family, ["-t", table, "-C", builtin, *jump, "-j", chain],
                                     check=False).returncode != 0:
                self._run(family, ["-t", table, "-I", builtin, "1", *jump, "-j", chain])

    def add(self, rules: BridgeRules) -> None:
        with host_lock():
            for fam in self._families(rules):
                self._ensure_chains(fam)
            for fam, table, chain, args in self.render(rules):
                if self._run(fam, ["-t", table, "-C", chain, *args], check=False).returncode != 0:
                    # the isolation drop goes last so every network's jump reaches all of them
                    self._run(fam, ["-t", table, "-A", chain, *args])

    # -- published ports ---------------------------------------------------------------------------------------
    def _dnat_jumps(self, family: int) -> list[tuple[str, list[str]]]:
        """The built-in chains jumping to our DNAT chain, with their matches."""
        loopback = "127.0.0.0/8" if family == 4 else "::1/128"
        jump = ["-m", "comment", "--comment", f"pycompose:{self.table}", "-j", self.dnat_chain]
        local = ["-m", "addrtype", "--dst-type", "LOCAL"]
        return [("PREROUTING", [*local, *jump]), ("OUTPUT", ["!", "-d", loopback, *local, *jump])]

    def render_ports(self, rules: PortRules) -> list[tuple[int, str, str, list[str]]]:
        """A container's DNAT rules as (family, table, chain, args): the nat ones are appended, the forward
        accepts inserted at the head."""
        br, c = rules.bridge, ["-m", "comment", "--comment", port_comment(rules.container_id)]
        out: list[tuple[int, str, str, list[str]]] = []
        accepts: list[tuple[int, str, str, list[str]]] = []
        for f in rules.forwards:
            to = f"[{f.target}]:{f.target_port}" if f.version == 6 else f"{f.target}:{f.target_port}"
            daddr = ["-d", f.host_ip] if f.host_ip else []
            out.append((f.version, "nat", self.dnat_chain, ["-p", f.protocol, *daddr, "!", "-i", br, "-m", f.protocol,
                                                             "--dport", str(f.host_port), *c, "-j", "DNAT",
                                                             "--to-destination", to]))
            for args in (["-o", br, "-d", f.target, "-p", f.protocol, "-m", f.protocol, "--dport", str(f.target_port)],
                         ["-i", br, "-s", f.target, "-p", f.protocol, "-m", f.protocol, "--sport",
                          str(f.target_port)]):
                rule = (f.version, "filter", self.forward_chain, [*args, "-m", "conntrack", "--ctstate", "DNAT", *c,
                                                                  "-j", "ACCEPT"])
                if rule not in accepts:
                    accepts.append(rule)
        return out + accepts

    def add_ports(self, rules: PortRules) -> None:
        """Install a container's DNAT rules (nothing when it has no forwards)."""
        rendered = self.render_ports(rules)
        if not rendered:
            return
        with host_lock():
            for fam in sorted({r[0] for r in rendered}):
                self._ensure_chains(fam)
                if self._run(fam, ["-t", "nat", "-n", "-L", self.dnat_chain], check=False).returncode != 0:
                    self._run(fam, ["-t", "nat", "-N", self.dnat_chain])
                for builtin, args in self._dnat_jumps(fam):
                    if self._run(fam, ["-t", "nat", "-C", builtin, *args], check=False).returncode != 0:
                        self._run(fam, ["-t", "nat", "-I", builtin, "1", *args])
            for fam, table, chain, args in rendered:
                if self._run(fam, ["-t", table, "-C", chain, *args], check=False).returncode != 0:
                    where = ["-I", chain, "1"] if table == "filter" else ["-A", chain]
                    self._run(fam, ["-t", table, *where, *args])

    def port_owners(self) -> set[str]:
        """The containers that have DNAT rules in our chains."""
        out = set()
        for words in self._ours(4, "nat") + self._ours(6, "nat"):
            if "--comment" in words and (cid := owner_of(words[words.index("--comment") + 1])):
                out.add(cid)
        return out

    def port_rules_of(self, container_id: str) -> list[str]:
        comment = port_comment(container_id)
        return [shlex.join(w) for fam in (4, 6) for t in ("filter", "nat") for w in self._ours(fam, t)
                if comment in w]

    def remove_ports(self, container_id: str) -> None:
        """Delete a container's DNAT rules; the jumps and chains too when none of anyone's rules is left."""
        with host_lock():
            self._delete_tagged(port_comment(container_id))

    # -- reading -----------------------------------------------------------------------------------------------
    def _ours(self, family: int, table: str) -> list[list[str]]:
        chains = {self.forward_chain, self.isolation_chain, self.postrouting_chain, self.dnat_chain}
        out = []
        for line in self._save(family, table):
            if line.startswith("-A "):
                words = shlex.split(line)
                if words[1] in chains:
                    out.append(words)
        return out

    def rules_of(self, network_id: str) -> list[str]:
        """Our rules (``iptables-save`` lines, both families) carrying the network's comment."""
        comment = self._comment(network_id)
        return [shlex.join(w) for fam in (4, 6) for t in ("filter", "nat") for w in self._ours(fam, t)
                if comment in w]

    def bridges(self) -> list[str]:
        seen: list[str] = []
        for words in self._ours(4, "filter"):
            if words[1] == self.isolation_chain and "-o" in words:
                seen.append(words[words.index("-o") + 1])
        return seen

    # -- removal -----------------------------------------------------------------------------------------------
    def remove(self, network_id: str, bridge: str) -> None:
        """Delete the network's rules; the jumps and chains too when none of anyone's rules is left."""
        del bridge  # rules are found by their comment
        with host_lock():
            self._delete_tagged(self._comment(network_id))

    def _delete_tagged(self, comment: str) -> None:
        """Delete our rules carrying ``comment`` (host lock held); the chains too when none is left."""
        for fam in (4, 6):
            if not self._bin[fam]:
                continue
            left = 0
            for table in ("filter", "nat"):
                for words in self._ours(fam, table):
                    if comment in words:
                        self._run(fam, ["-t", table, "-D", *words[1:]])
                    else:
                        left += 1
            if not left:
                self._drop_chains(fam)

    def _drop_chains(self, family: int) -> None:
        jump = ["-m", "comment", "--comment", f"pycompose:{self.table}"]
        for table, chain, builtin in (("filter", self.forward_chain, "FORWARD"),
                                      ("filter", self.isolation_chain, None),
                                      ("nat", self.postrouting_chain, "POSTROUTING")):
            if builtin:
                while self._run(family, ["-t", table, "-C", builtin, *jump, "-j", chain],
                                check=False).returncode == 0:
                    self._run(family, ["-t", table, "-D", builtin, *jump, "-j", chain])
            if self._run(family, ["-t", table, "-n", "-L", chain], check=False).returncode == 0:
                self._run(family, ["-t", table, "-F", chain])
                self._run(family, ["-t", table, "-X", chain])
        for builtin, args in self._dnat_jumps(family):
            while self._run(family, ["-t", "nat", "-C", builtin, *args], check=False).returncode == 0:
                self._run(family, ["-t", "nat", "-D", builtin, *args])
        if self._run(family, ["-t", "nat", "-n", "-L", self.dnat_chain], check=False).returncode == 0:
            self._run(family, ["-t", "nat", "-F", self.dnat_chain])
            self._run(family, ["-t", "nat", "-X", self.dnat_chain])
