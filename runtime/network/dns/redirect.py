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

from runtime.errors import EngineError, Unsupported

__all__ = ["TABLE", "install_redirect", "redirect_available", "redirect_script"]

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
