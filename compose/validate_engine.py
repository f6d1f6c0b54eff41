"""Semantic rules about values the engine would only reject at container-create time: image references,
capabilities, stop signals, absolute paths, DNS servers, MAC and IP addresses, IPAM subnets and static
addresses, and external resources that also set options only Compose-created ones can have.

Each rule takes the checker from ``compose.validate`` (duck-typed by ``Checker`` below) and reports through it.
"""
from __future__ import annotations

import ipaddress
from typing import Any, Callable, Iterator, Protocol

from compose.shortsyntax import parse_port
from compose.valuechecks import (
    capability, image_reference, interface_name, ip_address, mac_address, stop_signal, subnet,
)

__all__ = ["ENGINE_RULES", "Checker", "replicas"]

KeyPath = tuple[str | int, ...]


class Checker(Protocol):
    def error(self, path: KeyPath, message: str) -> None: ...

    def each_service(self) -> Iterator[tuple[str, dict[str, Any], KeyPath]]: ...

    def declared(self, kind: str) -> dict[str, Any]: ...


def _interpolation_left(value: Any) -> bool:
    """A value still holding ``${...}`` came from ``--no-interpolate``: leave it to be judged later."""
    return isinstance(value, str) and "${" in value


def _service_strings(c: Checker) -> None:
    for name, service, path in c.each_service():
        image = service.get("image")
        if isinstance(image, str) and image and not _interpolation_left(image):
            problem = image_reference(image)
            if problem:
                c.error(path + ("image",), problem)
        for key in ("cap_add", "cap_drop"):
            for index, cap in enumerate(service.get(key) or []):
                problem = capability(cap) if isinstance(cap, str) else None
                if problem:
                    c.error(path + (key, index), problem)
        signal_name = service.get("stop_signal")
        if isinstance(signal_name, str) and not _interpolation_left(signal_name):
            problem = stop_signal(signal_name)
            if problem:
                c.error(path + ("stop_signal",), problem)
        workdir = service.get("working_dir")
        if isinstance(workdir, str) and workdir and not workdir.startswith("/") and not _interpolation_left(workdir):
            c.error(path + ("working_dir",), f"the working directory {workdir!r} must be an absolute path")
        tmpfs = service.get("tmpfs")
        for index, item in enumerate([tmpfs] if isinstance(tmpfs, str) else tmpfs or []):
            target = str(item).split(":", 1)[0]
            if not target.startswith("/"):
                where = path + (("tmpfs",) if isinstance(tmpfs, str) else ("tmpfs", index))
                c.error(where, f"the tmpfs mount point {target!r} must be an absolute path")
        dns = service.get("dns")
        for index, server in enumerate([dns] if isinstance(dns, str) else dns or []):
            if not _interpolation_left(server) and ip_address(server):
                where = path + (("dns",) if isinstance(dns, str) else ("dns", index))
                c.error(where, f"DNS server {server!r} is not an IP address")
        mac = service.get("mac_address")
        if isinstance(mac, str) and not _interpolation_left(mac) and mac_address(mac):
            c.error(path + ("mac_address",), str(mac_address(mac)))


def _mount_options(c: Checker) -> None:
    """Long-syntax mounts: options of one type given to another."""
    for name, service, path in c.each_service():
        for index, item in enumerate(service.get("volumes") or []):
            if not isinstance(item, dict):
                continue
            kind = item.get("type")
            for option in ("bind", "volume", "tmpfs", "image"):
                if option in item and option != kind:
                    c.error(path + ("volumes", index, option), f"'{option}' options do not apply to a mount of "
                                                               f"type {kind!r}")
            if kind == "tmpfs" and item.get("source"):
                c.error(path + ("volumes", index, "source"), "a tmpfs mount has no 'source'")


def _networks(c: Checker) -> None:
    """IPAM blocks, static addresses inside the declared subnets, external networks without local options."""
    subnets: dict[str, list[ipaddress.IPv4Network | ipaddress.IPv6Network]] = {}
    v6_only: set[str] = set()
    for key, spec in c.declared("networks").items():
        if not isinstance(spec, dict):
            continue
        where: KeyPath = ("networks", key)
        if spec.get("external"):
            for option in ("driver", "driver_opts", "ipam", "internal", "attachable", "enable_ipv6", "labels"):
                if option in spec:
                    c.error(where + (option,), f"network {key!r} is external: {option!r} belongs to whoever "
                                               "created it; remove it here")
        subnets[key] = []
        _ip_families(c, where, spec, v6_only)
        for index, block in enumerate((spec.get("ipam") or {}).get("config") or []):
            for network in _ipam_block(c, where + ("ipam", "config", index), block):
                for other, networks in subnets.items():
                    clash = next((n for n in networks if n.version == network.version and n.overlaps(network)), None)
                    if clash is not None:
                        c.error(where + ("ipam", "config", index, "subnet"),
                                f"subnet {network} overlaps {clash} of network {other!r}")
                subnets[key].append(network)
    for name, service, path in c.each_service():
        attached = service.get("networks")
        if not isinstance(attached, dict):
            continue
        ifnames: dict[str, str] = {}
        for network, spec in attached.items():
            if not isinstance(spec, dict):
                continue
            _endpoint_extras(c, path + ("networks", network), spec, ifnames, network)
            if network in v6_only and isinstance(spec.get("ipv4_address"), str):
                c.error(path + ("networks", network, "ipv4_address"), f"network {network!r} is IPv6-only "
                                                                       "(enable_ipv4: false): it has no IPv4 address")
                continue
            for key, version in (("ipv4_address", 4), ("ipv6_address", 6)):
                address = spec.get(key)
                if not isinstance(address, str) or _interpolation_left(address):
                    continue
                where = path + ("networks", network, key)
                problem = ip_address(address, version)
                if problem:
                    c.error(where, problem)
                    continue
                declared = [n for n in subnets.get(network, []) if n.version == version]
                if network in subnets and not declared:
                    c.error(where, f"a static address needs a subnet declared in networks.{network}.ipam.config")
                elif declared and not any(ipaddress.ip_address(address) in n for n in declared):
                    shown = ", ".join(str(n) for n in declared)
                    c.error(where, f"{address} is outside the subnets of network {network!r} ({shown})")
            mac = spec.get("mac_address")
            if isinstance(mac, str) and not _interpolation_left(mac) and mac_address(mac):
                c.error(path + ("networks", network, "mac_address"), str(mac_address(mac)))


def _ip_families(c: Checker, where: KeyPath, spec: dict[str, Any], v6_only: set[str]) -> None:
    """``enable_ipv4: false`` makes an IPv6-only network: it needs ``enable_ipv6: true`` (Docker: 'IPv4 or IPv6
    must be enabled') and takes no IPv4 subnet."""
    if spec.get("enable_ipv4") is not False or spec.get("external"):
        return
    v6_only.add(where[-1])  # type: ignore[arg-type]
    if spec.get("enable_ipv6") is not True:
        c.error(where + ("enable_ipv4",), "IPv4 or IPv6 must be enabled: an IPv6-only network (enable_ipv4: false) "
                                          "needs enable_ipv6: true")
    for index, block in enumerate((spec.get("ipam") or {}).get("config") or []):
        sub = block.get("subnet") if isinstance(block, dict) else None
        if isinstance(sub, str) and not _interpolation_left(sub) and not subnet(sub) \
                and ipaddress.ip_network(sub).version == 4:
            c.error(where + ("ipam", "config", index, "subnet"), f"{sub} is an IPv4 subnet but the network is "
                                                                 "IPv6-only (enable_ipv4: false)")


def _endpoint_extras(c: Checker, where: KeyPath, spec: dict[str, Any], ifnames: dict[str, str],
                     network: str) -> None:
    """``interface_name`` (a valid name, one per network of the service) and ``link_local_ips`` (addresses)."""
    name = spec.get("interface_name")
    if isinstance(name, str) and not _interpolation_left(name):
        problem = interface_name(name)
        if problem:
            c.error(where + ("interface_name",), problem)
        elif name in ifnames:
            c.error(where + ("interface_name",), f"interface name {name!r} is already used by network "
                                                 f"{ifnames[name]!r} of this service; each network needs its own")
        else:
            ifnames[name] = network
    for index, ip in enumerate(spec.get("link_local_ips") or ()):
        if isinstance(ip, str) and not _interpolation_left(ip):
            problem = ip_address(ip)
            if problem:
                c.error(where + ("link_local_ips", index), problem)


def _ipam_block(c: Checker, where: KeyPath, block: Any) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    if not isinstance(block, dict) or not isinstance(block.get("subnet"), str):
        return []
    problem = subnet(block["subnet"])
    if problem:
        c.error(where + ("subnet",), problem)
        return []
    network = ipaddress.ip_network(block["subnet"])
    gateway = block.get("gateway")
    if isinstance(gateway, str):
        problem = ip_address(gateway)
        if problem:
            c.error(where + ("gateway",), problem)
        elif ipaddress.ip_address(gateway) not in network:
            c.error(where + ("gateway",), f"the gateway {gateway} is outside the subnet {network}")
    ip_range = block.get("ip_range")
    if isinstance(ip_range, str):
        try:
            pool = ipaddress.ip_network(ip_range, strict=True)
            if pool.version != network.version or not pool.subnet_of(network):  # type: ignore[arg-type]
                c.error(where + ("ip_range",), f"the range {ip_range} is outside the subnet {network}")
        except ValueError as err:
            c.error(where + ("ip_range",), f"invalid ip_range {ip_range!r}: {err}")
    return [network]


def _published_ports(c: Checker) -> None:
    """Two containers cannot publish the same host port: not two services, nor two replicas of one."""
    taken: dict[tuple[str, int], tuple[str, str]] = {}  # (protocol, host port) -> (service, host IP)
    for name, service, path in c.each_service():
        count = replicas(service)
        for index, item in enumerate(service.get("ports") or []):
            for host_ip, low, high, protocol in _bindings(item):
                where = path + ("ports", index)
                if count > 1 and low == high:
                    c.error(where, f"service {name!r} runs {count} replicas but publishes the single host port "
                                   f"{low}; use a range (e.g. '{low}-{low + count - 1}:...') or no host port")
                for port in range(low, high + 1) if high - low < 1024 else ():
                    owner = taken.get((protocol, port))
                    if owner and _same_address(owner[1], host_ip):
                        who = "this service" if owner[0] == name else f"service {owner[0]!r}"
                        c.error(where, f"host port {port}/{protocol} is already published by {who}")
                        break
                    taken.setdefault((protocol, port), (name, host_ip))


def _bindings(item: Any) -> list[tuple[str, int, int, str]]:
    """(host IP, first, last host port, protocol) for each published port of one ``ports`` entry."""
    try:
        entries = [item] if isinstance(item, dict) else parse_port(item)
        out = []
        for entry in entries:
            published = entry.get("published")
            if published in (None, "") or _interpolation_left(published):
                continue
            low, _, high = str(published).partition("-")
            if int(low) == 0:
                continue  # 0: the engine picks a free port
            out.append((str(entry.get("host_ip") or ""), int(low), int(high or low),
                        str(entry.get("protocol") or "tcp").lower()))
        return out
    except (ValueError, TypeError, AttributeError):
        return []  # unreadable: reported by the canonical-form check


def _same_address(one: str, two: str) -> bool:
    """Bindings collide on equal addresses, or when one is a wildcard: "" (every address) or 0.0.0.0/:: (one family)."""
    if one == two or "" in (one, two):
        return True
    if one in ("0.0.0.0", "::") or two in ("0.0.0.0", "::"):
        return (":" in one) == (":" in two)
    return False


def replicas(service: dict[str, Any]) -> int:
    """How many containers a service (its raw mapping) runs: ``scale``, else ``deploy.replicas``, else 1 (also
    when the value is no number: the schema reports that)."""
    for value in (service.get("scale"), (service.get("deploy") or {}).get("replicas")):
        try:
            if value is not None:
                return int(value)
        except (TypeError, ValueError):
            return 1
    return 1


ENGINE_RULES: list[Callable[[Checker], None]] = [_service_strings, _mount_options, _networks, _published_ports]
