"""What the bridge driver takes from an endpoint's settings beyond addresses and aliases, checked: the interface
name asked for by the ``com.docker.network.endpoint.ifname`` driver option (compose ``interface_name``) and the
extra link-local addresses of ``IPAMConfig.LinkLocalIPs`` (compose ``link_local_ips``), and Docker's rules
for static addresses (``IPAMConfig.IPv4Address`` / ``IPv6Address``) on a given network.

Each check raises :class:`InvalidArgument` (HTTP 400) naming the bad value, so a container create or a network
connect is refused before anything is made.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from runtime.errors import InvalidArgument
from runtime.network.bridge import check_ifname

if TYPE_CHECKING:
    from runtime.network.model import Network

__all__ = ["OPT_ENDPOINT_IFNAME", "endpoint_ifname", "link_local_interfaces", "check_endpoints",
           "check_static_addresses", "endpoint_links"]

OPT_ENDPOINT_IFNAME = "com.docker.network.endpoint.ifname"

Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface


def endpoint_ifname(driver_opts: Mapping[str, Any] | None) -> str | None:
    """The interface name the driver options ask for (``None``: the next free ``eth<N>``)."""
    name = (driver_opts or {}).get(OPT_ENDPOINT_IFNAME)
    if name in (None, ""):
        return None
    if not isinstance(name, str):
        raise InvalidArgument(f"driver option {OPT_ENDPOINT_IFNAME}: want a string, got {name!r}")
    try:
        return check_ifname(name)
    except InvalidArgument as err:
        raise InvalidArgument(f"driver option {OPT_ENDPOINT_IFNAME}: {err}") from err


def link_local_interfaces(ips: Iterable[Any] | None) -> tuple[Interface, ...]:
    """``LinkLocalIPs`` as interface addresses, with Docker's prefixes: /16 for IPv4, /64 for IPv6."""
    if ips is not None and (isinstance(ips, (str, bytes)) or not isinstance(ips, Iterable)):
        raise InvalidArgument(f"LinkLocalIPs: want a list of addresses, got {ips!r}")
    out: list[Interface] = []
    for raw in ips or ():
        try:
            ip = ipaddress.ip_address(str(raw))
        except ValueError as err:
            raise InvalidArgument(f"invalid link-local IP address: {raw}") from err
        iface = ipaddress.ip_interface(f"{ip}/{16 if ip.version == 4 else 64}")
        if iface not in out:
            out.append(iface)
    return tuple(out)


def check_endpoints(endpoints: Mapping[str, Any]) -> None:
    """Every endpoint's interface name and link-local addresses valid, and no name asked for twice."""
    taken: dict[str, str] = {}
    for network, cfg in endpoints.items():
        cfg = cfg if isinstance(cfg, Mapping) else {}
        name = endpoint_ifname(cfg.get("DriverOpts"))
        if name is not None:
            if name in taken:
                raise InvalidArgument(f"interface name {name} is asked for on networks {taken[name]} and "
                                      f"{network}; each endpoint needs its own")
            taken[name] = network
        link_local_interfaces((cfg.get("IPAMConfig") or {}).get("LinkLocalIPs"))
        endpoint_links(cfg.get("Links"))


def endpoint_links(links: Any) -> tuple[tuple[str, str], ...]:
    """An endpoint's ``Links`` (``name``, ``name:alias`` or Docker's ``/name:/me/alias``) as (alias, container
    name) pairs; the alias is the name itself when none is given."""
    if links is None:
        return ()
    if isinstance(links, (str, bytes)) or not isinstance(links, Iterable):
        raise InvalidArgument(f"Links: want a list of 'container:alias', got {links!r}")
    out = []
    for link in links:
        if not isinstance(link, str) or not link.strip(":/ "):
            raise InvalidArgument(f"invalid link {link!r}: want 'container:alias'")
        name, _, alias = link.partition(":")
        name = name.strip().lstrip("/")
        alias = alias.strip().rsplit("/", 1)[-1] or name
        if not name:
            raise InvalidArgument(f"invalid link {link!r}: want 'container:alias'")
        out.append((alias, name))
    return tuple(out)


def check_static_addresses(network: Network, cfg: Mapping[str, Any]) -> None:
    """Docker's checks of the addresses an endpoint asks for on ``network``, each an :class:`InvalidArgument`
    (HTTP 400) with Docker's words: a valid address of the right family, the family enabled, a user-defined
    network, whose user-configured subnet of that family holds the address. (An address taken is a
    ``Conflict`` at allocation.)"""
    from runtime.network.model import OPT_DEFAULT_BRIDGE

    ipam = cfg.get("IPAMConfig") or {}
    if not isinstance(ipam, Mapping):
        return
    wanted: dict[int, ipaddress.IPv4Address | ipaddress.IPv6Address] = {}
    for version in (4, 6):
        text = ipam.get(f"IPv{version}Address") or ""
        if not text:
            continue
        try:
            ip = ipaddress.ip_address(str(text))
        except ValueError:
            ip = None
        if ip is None or ip.version != version:
            raise InvalidArgument(f"invalid IPv{version} address: {text}")
        wanted[version] = ip
    if not wanted:
        return
    if network.driver != "bridge" or network.options.get(OPT_DEFAULT_BRIDGE) == "true":
        raise InvalidArgument("user specified IP address is supported on user defined networks only")
    for version, ip in wanted.items():
        if not (network.enable_ipv4 if version == 4 else network.enable_ipv6):
            raise InvalidArgument(f"network {network.name} does not have IPv{version} enabled")
        subnets = [c.subnet for c in network.ipam.config if c.subnet is not None and c.subnet.version == version]
        if not subnets:
            raise InvalidArgument("user specified IP address is supported only when connecting to networks with "
                                  "user configured subnets")
        if not any(ip in subnet for subnet in subnets):
            raise InvalidArgument(f"invalid endpoint settings:\nno configured subnet or ip-range contain the IP "
                                  f"address {ip}")
