"""The engine's configuration file, like Docker's daemon.json (``/etc/pycompose/engine.json`` or ``--config``).

Keys: data-root, default-address-pools, dns, registry-mirrors, insecure-registries, log-driver, log-opts,
default-ulimits, cgroup-parent, hosts, bridge (the default bridge's interface name), nft-table (our nftables
table), ip-forward (false: never turn on the host's IPv4 forwarding). Every value is checked at start; a bad one is refused naming its key.
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.errors import InvalidArgument
from runtime.paths import data_root
from runtime.spec import Ulimit  # the container spec's own: a default limit is handed to containers as-is

__all__ = ["DEFAULT_CONFIG_PATH", "DEFAULT_SOCKET", "AddressPool", "Ulimit", "EngineConfig", "load_config",
           "parse_config", "socket_path"]

DEFAULT_CONFIG_PATH = Path("/etc/pycompose/engine.json")
DEFAULT_SOCKET = "/run/pycompose/engine.sock"
_SIZE = re.compile(r"^\d+(\.\d+)?\s*([kmg]b?|b)?$", re.I)
_ULIMITS = {"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
            "rtprio", "rttime", "sigpending", "stack", "as"}
_LOG_OPTS = {"max-size", "max-file", "compress", "mode", "max-buffer-size", "tag", "labels", "env"}
_KNOWN = {"data-root", "default-address-pools", "dns", "registry-mirrors", "insecure-registries", "log-driver",
          "log-opts", "default-ulimits", "cgroup-parent", "hosts", "debug", "dns-search", "dns-opts", "bridge",
          "nft-table", "ip-forward", "firewall-backend"}


@dataclass(frozen=True)
class AddressPool:
    base: ipaddress.IPv4Network | ipaddress.IPv6Network
    size: int


@dataclass(frozen=True)
class EngineConfig:
    data_root: Path
    hosts: tuple[str, ...] = ()
    default_address_pools: tuple[AddressPool, ...] = (
        AddressPool(ipaddress.ip_network("172.17.0.0/16"), 16), AddressPool(ipaddress.ip_network("172.18.0.0/16"), 16),
        AddressPool(ipaddress.ip_network("172.19.0.0/16"), 16), AddressPool(ipaddress.ip_network("172.20.0.0/14"), 16),
        AddressPool(ipaddress.ip_network("172.24.0.0/14"), 16), AddressPool(ipaddress.ip_network("172.28.0.0/14"), 16),
        AddressPool(ipaddress.ip_network("192.168.0.0/16"), 20))
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_opts: tuple[str, ...] = ()
    registry_mirrors: tuple[str, ...] = ()
    insecure_registries: tuple[str, ...] = ()
    log_driver: str = "json-file"
    log_opts: dict[str, str] = field(default_factory=dict)
    default_ulimits: tuple[Ulimit, ...] = ()
    cgroup_parent: str = "pycompose"
    bridge: str = "pycompose0"  # the default bridge network's interface (Docker's "bridge": docker0)
    nft_table: str = "pycompose"  # our nftables table (inet family)
    firewall_backend: str | None = None  # "nftables" | "iptables"; None: nft if installed, else iptables
    debug: bool = False
    ip_forward: bool = True  # as Docker: bridges turn on net.ipv4.ip_forward unless "ip-forward": false


def _bad(key: str, what: str) -> InvalidArgument:
    return InvalidArgument(f"engine configuration: {key}: {what}")


def _strings(raw: dict[str, Any], key: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(key, "must be a list of strings")
    return tuple(value)


def _pools(value: Any) -> tuple[AddressPool, ...]:
    key = "default-address-pools"
    if not isinstance(value, list) or not value:
        raise _bad(key, "must be a non-empty list of {\"base\": CIDR, \"size\": N}")
    pools = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or set(item) - {"base", "size"} or "base" not in item or "size" not in item:
            raise _bad(f"{key}[{i}]", "needs exactly \"base\" (a CIDR) and \"size\" (a prefix length)")
        try:
            base = ipaddress.ip_network(item["base"])
        except (ValueError, TypeError) as err:
            raise _bad(f"{key}[{i}].base", f"{item['base']!r} is not a network in CIDR form ({err})") from None
        size = item["size"]
        if not isinstance(size, int) or isinstance(size, bool) or not base.prefixlen <= size <= base.max_prefixlen:
            raise _bad(f"{key}[{i}].size", f"{size!r} must be a prefix length from {base.prefixlen} to "
                                           f"{base.max_prefixlen}")
        pools.append(AddressPool(base, size))
    return tuple(pools)


def _ulimits(value: Any) -> tuple[Ulimit, ...]:
    key = "default-ulimits"
    if not isinstance(value, dict):
        raise _bad(key, "must be an object of name -> {\"Name\", \"Soft\", \"Hard\"}")
    out = []
    for name, spec in value.items():
        if name not in _ULIMITS:
            raise _bad(f"{key}.{name}", f"unknown ulimit; known: {', '.join(sorted(_ULIMITS))}")
        if not isinstance(spec, dict) or not isinstance(spec.get("Soft"), int) or not isinstance(spec.get("Hard"), int):
            raise _bad(f"{key}.{name}", "needs integer \"Soft\" and \"Hard\"")
        if spec["Soft"] > spec["Hard"] and spec["Hard"] != -1:
            raise _bad(f"{key}.{name}", "Soft must not exceed Hard")
        out.append(Ulimit(name, spec["Soft"], spec["Hard"]))
    return tuple(out)


def _log_opts(value: Any) -> dict[str, str]:
    key = "log-opts"
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _bad(key, "must be an object of string values")
    for name, opt in value.items():
        if name not in _LOG_OPTS:
            raise _bad(f"{key}.{name}", f"unknown log option; known: {', '.join(sorted(_LOG_OPTS))}")
        if name == "max-size" and not _SIZE.match(opt):
            raise _bad(f"{key}.max-size", f"{opt!r} is not a size such as 10m")
        if name == "max-file" and (not opt.isdigit() or int(opt) < 1):
            raise _bad(f"{key}.max-file", f"{opt!r} must be a positive integer")
    return dict(value)


def _registries(raw: dict[str, Any], key: str) -> tuple[str, ...]:
    values = _strings(raw, key)
    for v in values:
        if not v or " " in v or (key == "registry-mirrors" and not re.match(r"^https?://", v)):
            raise _bad(key, f"{v!r} is not a valid registry" + (" URL (http:// or https://)"
                                                                  if key == "registry-mirrors" else ""))
    return values


def parse_config(raw: Any, default_root: Path | None = None) -> EngineConfig:
    if not isinstance(raw, dict):
        raise InvalidArgument("engine configuration: must be a JSON object")
    unknown = sorted(set(raw) - _KNOWN)
    if unknown:
        raise _bad(unknown[0], f"unknown key; known keys: {', '.join(sorted(_KNOWN))}")
    kwargs: dict[str, Any] = {}
    root = raw.get("data-root")
    if root is not None:
        if not isinstance(root, str) or not os.path.isabs(root):
            raise _bad("data-root", f"{root!r} must be an absolute path")
        kwargs["data_root"] = Path(root)
    else:
        kwargs["data_root"] = default_root or data_root()
    if "default-address-pools" in raw:
        kwargs["default_address_pools"] = _pools(raw["default-address-pools"])
    for key in ("dns",):
        if key in raw:
            values = _strings(raw, key)
            for v in values:
                try:
                    ipaddress.ip_address(v)
                except ValueError:
                    raise _bad(key, f"{v!r} is not an IP address") from None
            kwargs[key] = values
    for key in ("dns-search", "dns-opts", "hosts"):
        if key in raw:
            kwargs[key.replace("-", "_")] = _strings(raw, key)
    for key in ("registry-mirrors", "insecure-registries"):
        if key in raw:
            kwargs[key.replace("-", "_")] = _registries(raw, key)
    if "log-driver" in raw:
        if raw["log-driver"] != "json-file":
            raise _bad("log-driver", f"{raw['log-driver']!r} is not supported (only json-file)")
        kwargs["log_driver"] = raw["log-driver"]
    if "log-opts" in raw:
        kwargs["log_opts"] = _log_opts(raw["log-opts"])
    if "default-ulimits" in raw:
        kwargs["default_ulimits"] = _ulimits(raw["default-ulimits"])
    if "cgroup-parent" in raw:
        parent = raw["cgroup-parent"]
        if not isinstance(parent, str) or not parent or ".." in parent.split("/"):
            raise _bad("cgroup-parent", f"{parent!r} must be a cgroup path without '..'")
        kwargs["cgroup_parent"] = parent
    if "bridge" in raw:
        name = raw["bridge"]
        if not isinstance(name, str) or not re.match(r"^[a-zA-Z0-9_.-]{1,15}$", name):
            raise _bad("bridge", f"{name!r} is not an interface name (1-15 of a-z A-Z 0-9 _ . -)")
        kwargs["bridge"] = name
    if "nft-table" in raw:
        table = raw["nft-table"]
        if not isinstance(table, str) or not re.match(r"^[a-zA-Z][a-zA-Z0-9_]{0,31}$", table):
            raise _bad("nft-table", f"{table!r} is not an nftables table name")
        kwargs["nft_table"] = table
    if "firewall-backend" in raw:
        if raw["firewall-backend"] not in ("nftables", "iptables"):
            raise _bad("firewall-backend", f"{raw['firewall-backend']!r} is not \"nftables\" or \"iptables\"")
        kwargs["firewall_backend"] = raw["firewall-backend"]
    for key in ("debug", "ip-forward"):
        if key in raw:
            if not isinstance(raw[key], bool):
                raise _bad(key, "must be true or false")
            kwargs[key.replace("-", "_")] = raw[key]
    return EngineConfig(**kwargs)


def load_config(path: str | os.PathLike[str] | None = None, default_root: Path | None = None) -> EngineConfig:
    """Read ``path`` (or the default file when it exists); an explicit path that is missing is an error."""
    file = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    if not file.exists():
        if path is not None:
            raise InvalidArgument(f"engine configuration: {file}: no such file")
        return parse_config({}, default_root)
    try:
        raw = json.loads(file.read_text())
    except ValueError as err:
        raise InvalidArgument(f"engine configuration: {file}: malformed JSON: {err}") from None
    return parse_config(raw, default_root)


def socket_path(explicit: str | None = None) -> str:
    """``unix://`` address from the flag, ``PYCOMPOSE_HOST``, ``DOCKER_HOST`` or the default socket."""
    value = explicit or os.environ.get("PYCOMPOSE_HOST") or os.environ.get("DOCKER_HOST") or f"unix://{DEFAULT_SOCKET}"
    if value.startswith("unix://"):
        return value[len("unix://"):]
    if value.startswith("/"):
        return value
    raise InvalidArgument(f"host {value!r}: only unix:// sockets are supported")
