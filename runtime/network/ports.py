"""Published ports: parsing, binding the host sockets up front, and the Engine API shapes.

Every host socket is bound (and TCP ones listen) before anything else happens, so a port already taken is a
clear :class:`Conflict` and nothing is left half made. The bound sockets are then handed to a userland proxy
process (:mod:`runtime.network.proxy`), which forwards to the container. Binding on the host address keeps
``127.0.0.1`` working without ``route_localnet`` and gives hairpin for free: a container that dials the host
(gateway or any host address) on a published port reaches the proxy through the host's own stack. Beside the
proxy, kernel DNAT serves what comes from elsewhere with the client's address kept (:mod:`runtime.network.portnat`).

A port published without a host address listens on ``0.0.0.0`` and, when the host has IPv6, on ``[::]`` (a
v6-only socket, same port), as Docker does. Each host socket forwards to the container's address of its own
family when the container has one, else to its other address (:class:`PortTargets`): IPv6 clients reach an
IPv4-only container, and IPv4 clients an IPv6-only one, through the proxy.
"""
from __future__ import annotations

import errno
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from runtime.errors import Conflict, InvalidArgument, Unsupported

__all__ = ["PortBinding", "BoundPort", "PortTargets", "parse_port_spec", "bindings_from_engine", "ports_to_engine",
           "bind_ports", "close_sockets"]

_PROTOCOLS = ("tcp", "udp")
_PORTS = re.compile(r"^[0-9]{1,5}(?:-[0-9]{1,5})?$")


@dataclass(frozen=True)
class PortBinding:
    """A wish: container port/protocol published on host_ip (``""`` = every address) and a host port.

    ``host_port`` 0 lets the engine choose; ``host_port_end`` > ``host_port`` means "any free port in range".
    """

    container_port: int
    protocol: str = "tcp"
    host_ip: str = ""
    host_port: int = 0
    host_port_end: int = 0

    def __post_init__(self) -> None:
        if self.protocol not in _PROTOCOLS:
            if self.protocol == "sctp":
                raise Unsupported("sctp published ports are not supported")
            raise InvalidArgument(f"invalid protocol {self.protocol!r} (tcp or udp)")
        for port in (self.container_port, self.host_port, self.host_port_end):
            if not 0 <= port <= 65535:
                raise InvalidArgument(f"invalid port {port}")
        if self.container_port == 0:
            raise InvalidArgument("container port 0 cannot be published")
        if self.host_port_end and self.host_port_end < self.host_port:
            raise InvalidArgument(f"invalid host port range {self.host_port}-{self.host_port_end}")
        if self.host_ip:
            try:
                ipaddress.ip_address(self.host_ip)
            except ValueError as err:
                raise InvalidArgument(f"invalid host IP {self.host_ip!r}") from err


@dataclass(frozen=True)
class BoundPort:
    """A published port as it ended up: the actual host address and port."""

    container_port: int
    protocol: str
    host_ip: str
    host_port: int

    def to_dict(self) -> dict[str, Any]:
        return {"container_port": self.container_port, "protocol": self.protocol, "host_ip": self.host_ip,
                "host_port": self.host_port}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "BoundPort":
        return cls(int(raw["container_port"]), raw["protocol"], raw["host_ip"], int(raw["host_port"]))


@dataclass(frozen=True)
class PortTargets:
    """The container's addresses published ports forward to: ``ipv4`` and/or ``ipv6`` (``""`` when absent)."""

    ipv4: str = ""
    ipv6: str = ""

    def __post_init__(self) -> None:
        for addr, version in ((self.ipv4, 4), (self.ipv6, 6)):
            if addr and ipaddress.ip_address(addr).version != version:
                raise InvalidArgument(f"{addr!r} is not an IPv{version} address")
        if not self.ipv4 and not self.ipv6:
            raise InvalidArgument("a published port needs a container address to forward to")

    @classmethod
    def of(cls, address: str) -> "PortTargets":
        """One address, of either family."""
        return cls(ipv6=address) if ":" in address else cls(ipv4=address)

    def for_host(self, host_ip: str) -> str:
        """Where a socket bound on ``host_ip`` forwards: the container's address of the same family, else
        its other one (Docker's userland proxy does the same across families)."""
        if ":" in host_ip:
            return self.ipv6 or self.ipv4
        return self.ipv4 or self.ipv6

    def addresses(self) -> tuple[str, ...]:
        return tuple(a for a in (self.ipv4, self.ipv6) if a)


def _range(text: str, what: str) -> tuple[int, int]:
    try:
        if "-" in text:
            lo, hi = (int(p) for p in text.split("-", 1))
        else:
            lo = hi = int(text)
    except ValueError as err:
        raise InvalidArgument(f"invalid {what} {text!r}") from err
    if hi < lo:
        raise InvalidArgument(f"invalid {what} range {text!r}")
    return lo, hi


def parse_port_spec(text: str) -> list[PortBinding]:
    """Short syntax: ``80``, ``8080:80``, ``127.0.0.1:8080:80/udp``, ``[::1]::80``, ``8000-8001:80-81``."""
    body, _, proto = text.strip().partition("/")
    host_ip = ""
    if body.startswith("["):
        host_ip, sep, rest = body[1:].partition("]:")
        if not sep:
            raise InvalidArgument(f"invalid port specification {text!r}")
        parts = rest.split(":")
        if len(parts) != 2:
            raise InvalidArgument(f"invalid port specification {text!r}")
        host_text, cont_text = parts
    else:
        parts = body.split(":")
        if len(parts) == 1:
            host_text, cont_text = "", parts[0]
        elif len(parts) == 2:
            host_text, cont_text = parts
        else:
            host_ip, host_text, cont_text = ":".join(parts[:-2]), parts[-2], parts[-1]
            if not host_ip:
                raise InvalidArgument(f"invalid port specification {text!r}")
    if not cont_text or not _PORTS.match(cont_text) or (host_text and not _PORTS.match(host_text)):
        raise InvalidArgument(f"invalid port specification {text!r}")
    proto = proto or "tcp"
    c_lo, c_hi = _range(cont_text, "container port")
    if not host_text:
        return [PortBinding(p, proto, host_ip) for p in range(c_lo, c_hi + 1)]
    h_lo, h_hi = _range(host_text, "host port")
    if c_lo == c_hi:
        return [PortBinding(c_lo, proto, host_ip, h_lo, h_hi if h_hi != h_lo else 0)]
    if h_hi - h_lo != c_hi - c_lo:
        raise InvalidArgument(f"invalid port specification {text!r}: host and container ranges differ in size")
    return [PortBinding(c, proto, host_ip, h_lo + i) for i, c in enumerate(range(c_lo, c_hi + 1))]


def bindings_from_engine(port_bindings: dict[str, list[dict[str, str]] | None] | None) -> list[PortBinding]:
    """From ``HostConfig.PortBindings``: ``{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}``."""
    out: list[PortBinding] = []
    for key, hosts in (port_bindings or {}).items():
        port_text, _, proto = key.partition("/")
        c_lo, c_hi = _range(port_text, "container port")
        for host in hosts or [{}]:
            h_text = (host or {}).get("HostPort") or ""
            h_lo, h_hi = _range(h_text, "host port") if h_text else (0, 0)
            for i, c in enumerate(range(c_lo, c_hi + 1)):
                if c_hi > c_lo and h_lo:
                    out.append(PortBinding(c, proto or "tcp", (host or {}).get("HostIp") or "", h_lo + i))
                else:
                    out.append(PortBinding(c, proto or "tcp", (host or {}).get("HostIp") or "", h_lo,
                                           h_hi if h_hi != h_lo else 0))
    return out


def ports_to_engine(bound: Iterable[BoundPort], exposed: Iterable[str] = ()) -> dict[str, list[dict[str, str]] | None]:
    """``NetworkSettings.Ports``: every exposed port, with its host bindings (``None`` when unpublished)."""
    out: dict[str, list[dict[str, str]] | None] = {key: None for key in exposed}
    for b in bound:
        key = f"{b.container_port}/{b.protocol}"
        out.setdefault(key, None)
        out[key] = (out[key] or []) + [{"HostIp": b.host_ip, "HostPort": str(b.host_port)}]
    return out


def _ipv6_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _bind_one(ip: str, port: int, proto: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    sock = socket.socket(family, kind)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
        if kind == socket.SOCK_STREAM:
            sock.listen(socket.SOMAXCONN)
        return sock
    except BaseException:
        sock.close()
        raise


def _bind_wish(wish: PortBinding, v6: bool) -> list[tuple[BoundPort, socket.socket]]:
    ips = [wish.host_ip] if wish.host_ip else (["0.0.0.0", "::"] if v6 else ["0.0.0.0"])
    if wish.host_port_end:
        candidates = list(range(wish.host_port, wish.host_port_end + 1))
    elif wish.host_port:
        candidates = [wish.host_port]
    else:
        candidates = [0] * 16  # ephemeral; retried when the second family's bind of that port collides
    last: OSError | None = None
    for port in candidates:
        got: list[tuple[BoundPort, socket.socket]] = []
        try:
            for ip in ips:
                sock = _bind_one(ip, port, wish.protocol)
                port = sock.getsockname()[1]
                got.append((BoundPort(wish.container_port, wish.protocol, ip, port), sock))
            return got
        except OSError as err:
            close_sockets(s for _, s in got)
            if err.errno == errno.EADDRNOTAVAIL:
                raise InvalidArgument(f"cannot publish on {wish.host_ip}: not an address of this host") from err
            if err.errno != errno.EADDRINUSE:
                raise InvalidArgument(f"cannot publish {wish.protocol} port {port} on "
                                      f"{wish.host_ip or 'all addresses'}: {err.strerror}") from err
            last = err
    where = wish.host_ip or "0.0.0.0"
    if wish.host_port_end:
        raise Conflict(f"Bind for {where}:{wish.host_port}-{wish.host_port_end} failed: "
                       f"no free port in range ({last})")
    raise Conflict(f"Bind for {where}:{wish.host_port or 0} failed: port is already allocated")


def bind_ports(wishes: Iterable[PortBinding]) -> list[tuple[BoundPort, socket.socket]]:
    """Bind every wish, or none: on any failure every socket bound so far is closed before raising."""
    wishes = list(wishes)
    v6 = any(not w.host_ip for w in wishes) and _ipv6_available()
    done: list[tuple[BoundPort, socket.socket]] = []
    try:
        for wish in wishes:
            done.extend(_bind_wish(wish, v6))
    except BaseException:
        close_sockets(s for _, s in done)
        raise
    return done


def close_sockets(socks: Iterable[socket.socket]) -> None:
    for sock in socks:
        sock.close()
