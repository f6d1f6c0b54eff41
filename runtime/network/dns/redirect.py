"""Port 53 left free for the container: 127.0.0.11:53 redirected (nftables DNAT) to the server's real port.

Binding 127.0.0.11:53 itself is fastest but keeps port 53 taken inside the container's netns, so a service
that runs its own DNS server on ``0.0.0.0:53`` (coredns, dnsmasq, pi-hole) would fail to bind. With
redirection, as Docker does, the server binds a kernel-chosen port and a table of its own in the container's
netns (``ip pycompose_dns``, output hook) sends 127.0.0.11:53 there; conntrack turns the replies back. The
table is replaced atomically on each call and dies with the netns.

The table is loaded through libnftables (what the ``nft`` command is built on) by a thread that joined the
netns: no process to start. Most of the ~15 ms it takes is the kernel setting up NAT in a fresh namespace.
"""
from __future__ import annotations

import ctypes
import os
import socket

from runtime.errors import EngineError, Unsupported
from runtime.network.dns.listener import run_in_netns
from runtime.network.nftlib import load_library, run_in_context

__all__ = ["TABLE", "forget_mappings", "install_redirect", "redirect_available", "redirect_script"]

TABLE = "pycompose_dns"


def _libnftables() -> ctypes.CDLL:
    """libnftables, loaded once (``Unsupported`` when it is not installed)."""
    lib = load_library()
    if lib is None:
        raise Unsupported("DNS port redirection needs libnftables (Debian: libnftables1, from nftables)")
    return lib


def redirect_available() -> bool:
    """Whether libnftables, which redirection needs, is installed."""
    try:
        _libnftables()
    except (Unsupported, OSError):
        return False
    return True


def redirect_script(address: str, udp_port: int, tcp_port: int) -> str:
    """The nft transaction: (re)create the table with one DNAT rule per protocol."""
    return (
        f"table ip {TABLE} {{}}\n"
        f"delete table ip {TABLE}\n"
        f"table ip {TABLE} {{\n"
        f"  chain output {{\n"
        f"    type nat hook output priority -100; policy accept;\n"
        f"    ip daddr {address} udp dport 53 dnat to {address}:{udp_port}\n"
        f"    ip daddr {address} tcp dport 53 dnat to {address}:{tcp_port}\n"
        f"  }}\n"
        f"}}\n"
    )


def _apply(script: str) -> None:
    """Run an nft script in the calling thread's netns; ``EngineError`` with nft's message on failure."""
    ok, _, err = run_in_context(_libnftables(), script)
    if not ok:
        raise EngineError(err.strip() or "unknown error")


async def install_redirect(netns_path: str | os.PathLike[str], address: str, udp_port: int, tcp_port: int) -> None:
    """Load the redirect table into the netns at ``netns_path`` (from a thread that joined it)."""
    path = os.fspath(netns_path)
    _libnftables()  # Unsupported before any thread is made
    try:
        await run_in_netns(path, lambda: _apply(redirect_script(address, udp_port, tcp_port)))
    except Unsupported:
        raise
    except EngineError as err:
        raise EngineError(f"cannot redirect {address}:53 in {path}: {err}") from err


async def forget_mappings(netns_path: str | os.PathLike[str], address: str, udp_port: int, tcp_port: int) -> int:
    """Drop the netns's conntrack entries for ``address``:53 that lead anywhere but the current ports.

    A client that keeps its source port (a caching resolver, a long-lived socket) would otherwise follow
    its old entry to a previous scope's port for as long as it keeps asking. Entries already mapped to the
    current ports (flows that started after the new rule) are kept. Returns how many entries went.
    """
    current = {socket.IPPROTO_UDP: udp_port, socket.IPPROTO_TCP: tcp_port}
    return await run_in_netns(os.fspath(netns_path), lambda: _forget_mappings(address, current))


def _tracked_flows() -> int | None:
    """How many flows conntrack tracks in the calling thread's netns (``None``: cannot tell)."""
    try:  # /proc/sys/net follows the netns of the task that opens it: this thread's
        with open("/proc/sys/net/netfilter/nf_conntrack_count") as fh:
            return int(fh.read())
    except (OSError, ValueError):
        return None


def _forget_mappings(address: str, current: dict[int, int]) -> int:
    """Delete this netns's conntrack entries for ``address``:53 not mapped to ``current[proto]``."""
    if _tracked_flows() == 0:  # a fresh namespace: nothing to forget, and no netlink socket to open
        return 0
    from pyroute2 import Conntrack
    from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple

    count = 0
    with Conntrack() as ct:
        for proto in current:
            wanted = NFCTAttrTuple(daddr=address, proto=proto, dport=53)
            for entry in list(ct.dump_entries(tuple_orig=wanted)):
                orig = entry.tuple_orig
                if (orig.daddr, orig.dport, orig.proto) != (address, 53, proto):  # the kernel filter, checked
                    continue
                if entry.tuple_reply.sport == current[proto]:  # already goes to this scope
                    continue
                try:
                    ct.delete(entry)
                    count += 1
                except OSError:  # gone meanwhile
                    continue
    return count
