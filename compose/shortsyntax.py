"""Parsers for the short (string) forms of ports, volumes, devices and extra hosts.

Each returns the long form as plain dicts, and raises ``ValueError`` with a message fit for a user when the
string cannot mean anything (the caller adds file, line and key path).
"""
from __future__ import annotations

import ipaddress
from typing import Any

__all__ = ["parse_port", "port_range", "parse_volume", "is_path_source", "parse_device", "parse_extra_host",
           "PROTOCOLS", "PROPAGATIONS"]

PROTOCOLS = ("tcp", "udp", "sctp")
PROPAGATIONS = ("shared", "rshared", "slave", "rslave", "private", "rprivate")
_CONSISTENCY = ("consistent", "cached", "delegated")


def port_range(text: str, what: str, allow_zero: bool = False) -> tuple[int, int]:
    """``"80"`` -> (80, 80); ``"8000-8010"`` -> (8000, 8010)."""
    low_text, _, high_text = text.partition("-")
    try:
        low = int(low_text, 10)
        high = int(high_text, 10) if high_text else low
    except ValueError:
        raise ValueError(f"invalid {what} {text!r}: expected a port number or a range like 8000-8010") from None
    floor = 0 if allow_zero else 1
    for port in (low, high):
        if not floor <= port <= 65535:
            raise ValueError(f"invalid {what} {text!r}: ports are {floor}-65535")
    if high < low:
        raise ValueError(f"invalid {what} {text!r}: the range ends before it starts")
    return low, high


def parse_port(spec: str | int | float) -> list[dict[str, Any]]:
    """``[[host_ip:]published:]target[/protocol]`` -> long-form ports (one per container port of a range)."""
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        if isinstance(spec, float) and not spec.is_integer():
            raise ValueError(f"invalid port {spec!r}: expected a whole number")
        spec = str(int(spec))
    text = str(spec).strip()
    protocol = "tcp"
    if "/" in text:
        text, protocol = text.rsplit("/", 1)
        protocol = protocol.lower()
        if protocol not in PROTOCOLS:
            raise ValueError(f"invalid protocol {protocol!r} in port {spec!r}: expected tcp, udp or sctp")
    parts = text.split(":")
    if len(parts) == 1:
        host_ip, published, target = "", "", parts[0]
    elif len(parts) == 2:
        host_ip, published, target = "", parts[0], parts[1]
    else:
        host_ip, published, target = ":".join(parts[:-2]), parts[-2], parts[-1]
    host_ip = host_ip.strip("[]") if host_ip.startswith("[") else host_ip
    if host_ip:
        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            raise ValueError(f"invalid host IP {host_ip!r} in port {spec!r}") from None
    if not target:
        raise ValueError(f"invalid port {spec!r}: no container port")
    t_low, t_high = port_range(target, "container port")
    ports: list[tuple[int, str]] = []
    if not published:
        ports = [(p, "") for p in range(t_low, t_high + 1)]
    else:
        p_low, p_high = port_range(published, "published port", allow_zero=True)
        if t_low == t_high:
            ports = [(t_low, published)]
        elif p_high - p_low == t_high - t_low:
            ports = [(t, str(p_low + i)) for i, t in enumerate(range(t_low, t_high + 1))]
        else:
            raise ValueError(f"invalid port {spec!r}: host and container port ranges differ in size")
    out = []
    for port, pub in ports:
        entry: dict[str, Any] = {"mode": "ingress"}
        if host_ip:
            entry["host_ip"] = host_ip
        entry["target"] = port
        if pub:
            entry["published"] = pub
        entry["protocol"] = protocol
        out.append(entry)
    return out


def is_path_source(source: str) -> bool:
    """A volume source that is a host path (bind mount) rather than a volume name."""
    return source.startswith((".", "/", "~")) or (len(source) > 1 and source[1] == ":" and source[0].isalpha())


def parse_volume(spec: str) -> dict[str, Any]:
    """``[source:]target[:options]`` -> a long-form mount (bind, named or anonymous volume)."""
    parts = spec.split(":")
    if len(parts) > 3 or not spec or any(p == "" for p in parts[:2]):
        raise ValueError(f"invalid volume {spec!r}: expected [SOURCE:]TARGET[:OPTIONS]")
    if len(parts) == 1:
        source, target, options = "", parts[0], ""
    else:
        source, target = parts[0], parts[1]
        options = parts[2] if len(parts) == 3 else ""
    if not target.startswith("/"):
        raise ValueError(f"invalid volume {spec!r}: the container path {target!r} must be absolute")
    kind = "bind" if source and is_path_source(source) else "volume"
    mount: dict[str, Any] = {"type": kind}
    if source:
        mount["source"] = source
    mount["target"] = target
    extra: dict[str, Any] = {"create_host_path": True} if kind == "bind" else {}
    for option in filter(None, options.split(",")):
        if option in ("ro", "rw"):
            if option == "ro":
                mount["read_only"] = True
        elif option in ("z", "Z"):
            extra["selinux"] = option
        elif option in PROPAGATIONS:
            extra["propagation"] = option
        elif option == "nocopy":
            if kind != "volume":
                raise ValueError(f"invalid volume {spec!r}: 'nocopy' applies only to named volumes")
            extra["nocopy"] = True
        elif option in _CONSISTENCY:
            mount["consistency"] = option
        else:
            raise ValueError(f"invalid volume option {option!r} in {spec!r}: expected ro, rw, z, Z, nocopy or a "
                             f"propagation ({', '.join(PROPAGATIONS)})")
    if kind == "bind":
        mount["bind"] = extra
    else:
        if "selinux" in extra or "propagation" in extra:
            raise ValueError(f"invalid volume {spec!r}: SELinux and propagation options apply only to bind mounts")
        mount["volume"] = extra
    return mount


def parse_device(spec: str) -> dict[str, Any]:
    """``source[:target[:permissions]]`` -> ``{source, target, permissions}``."""
    parts = spec.split(":")
    if len(parts) > 3 or not parts[0]:
        raise ValueError(f"invalid device {spec!r}: expected SOURCE[:TARGET[:PERMISSIONS]]")
    source = parts[0]
    target = parts[1] if len(parts) > 1 and parts[1] else source
    permissions = parts[2] if len(parts) > 2 else "rwm"
    if len(parts) == 2 and parts[1] and not parts[1].startswith("/") and set(parts[1]) <= set("rwm"):
        target, permissions = source, parts[1]
    if not permissions or not set(permissions) <= set("rwm"):
        raise ValueError(f"invalid device permissions {permissions!r} in {spec!r}: expected letters from 'rwm'")
    return {"source": source, "target": target, "permissions": permissions}


def parse_extra_host(spec: str) -> tuple[str, str]:
    """``host=ip`` or ``host:ip`` -> (host, ip); IPv6 may be written in brackets."""
    if "=" in spec:
        host, _, address = spec.partition("=")
    else:
        host, sep, address = spec.partition(":")
        if not sep:
            raise ValueError(f"invalid extra host {spec!r}: expected HOST=IP or HOST:IP")
    host, address = host.strip(), address.strip()
    if address.startswith("[") and address.endswith("]"):
        address = address[1:-1]
    if not host or not address:
        raise ValueError(f"invalid extra host {spec!r}: expected HOST=IP or HOST:IP")
    if address != "host-gateway":
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ValueError(f"invalid extra host {spec!r}: {address!r} is not an IP address") from None
    return host, address
