"""Which firewall backend writes a bridge network's rules: nftables (``nat``) or iptables (``iptables``)."""
from __future__ import annotations

import shutil

from runtime.errors import InvalidArgument
from runtime.network.iptables import IptablesFirewall
from runtime.network.nat import DEFAULT_TABLE, Firewall
from runtime.network.nftlib import library_available

__all__ = ["BACKENDS", "make_firewall"]

BACKENDS = ("nftables", "iptables")


def make_firewall(backend: str | None = None, table: str = DEFAULT_TABLE) -> Firewall | IptablesFirewall:
    """The backend named, else nftables when ``nft`` or libnftables is installed, else iptables when that is,
    else nftables (which then refuses each network with ``Unsupported``)."""
    if backend is None:
        nft = shutil.which("nft") or library_available()
        backend = "iptables" if not nft and shutil.which("iptables") else "nftables"
    if backend == "nftables":
        return Firewall(table)
    if backend == "iptables":
        return IptablesFirewall(table)
    raise InvalidArgument(f"firewall backend {backend!r} is not one of {', '.join(BACKENDS)}")
