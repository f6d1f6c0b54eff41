"""Whether this host can take IPv6 on loopback (tests of IPv6 published ports skip without it)."""
from __future__ import annotations

import socket

__all__ = ["host_has_ipv6"]


def host_has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False
