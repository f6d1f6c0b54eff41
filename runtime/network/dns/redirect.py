"""Port 53 left free for the container: 127.0.0.11:53 redirected (nftables DNAT) to the server's real port.

By default the server binds 127.0.0.11:53 itself, which is fastest but keeps port 53 taken inside the
container's netns, so a service that runs its own DNS server on ``0.0.0.0:53`` (coredns, dnsmasq, pi-hole)
would fail to bind. With redirection, as Docker does, the server binds a kernel-chosen port and a table of
its own in the container's netns (``ip pycompose_dns``, output hook) sends 127.0.0.11:53 there; conntrack
turns the replies back. The table is replaced atomically on each call and dies with the netns.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import socket

from runtime.errors import EngineError, Unsupported
from runtime.network.dns.listener import run_in_netns

__all__ = ["TABLE", "forget_mappings", "install_redirect", "redirect_available", "redirect_script"]

TABLE = "pycompose_dns"


def redirect_available() -> bool:
    """Whether the tools redirection needs are installed."""
    return shutil.which("nft") is not None and shutil.which("nsenter") is not None


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


async def install_redirect(netns_path: str | os.PathLike[str], address: str, udp_port: int, tcp_port: int) -> None:
    """Load the redirect table into the netns at ``netns_path`` (``nft`` run there through ``nsenter``)."""
    nft, nsenter = shutil.which("nft"), shutil.which("nsenter")
    if nft is None or nsenter is None:
        raise Unsupported("DNS port redirection needs nft (Debian: nftables) and nsenter (util-linux)")
    proc = await asyncio.create_subprocess_exec(
        nsenter, f"--net={os.fspath(netns_path)}", nft, "-f", "-",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate(redirect_script(address, udp_port, tcp_port).encode())
    if proc.returncode != 0:
        raise EngineError(f"cannot redirect {address}:53 in {os.fspath(netns_path)}: "
                          f"{err.decode(errors='replace').strip()}")


async def forget_mappings(netns_path: str | os.PathLike[str], address: str, udp_port: int, tcp_port: int) -> int:
    """Drop the netns's conntrack entries for ``address``:53 that lead anywhere but the current ports.

    A client that keeps its source port (a caching resolver, a long-lived socket) would otherwise follow
    its old entry to a previous scope's port for as long as it keeps asking. Entries already mapped to the
    current ports (flows that started after the new rule) are kept. Returns how many entries went.
    """
    current = {socket.IPPROTO_UDP: udp_port, socket.IPPROTO_TCP: tcp_port}
    return await run_in_netns(os.fspath(netns_path), lambda: _forget_mappings(address, current))


def _forget_mappings(address: str, current: dict[int, int]) -> int:
    """Delete this netns's conntrack entries for ``address``:53 not mapped to ``current[proto]``."""
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
