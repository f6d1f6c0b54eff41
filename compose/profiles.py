"""Profiles: services listing ``profiles`` run only when one of them is active (``--profile``,
``COMPOSE_PROFILES``; ``*`` activates all). Naming a service on the command line adds its profiles to the
active set (so the other services of those profiles come too), as the Compose spec says.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from compose.sourcemap import to_plain

__all__ = ["active_profiles", "all_profiles", "apply_profiles", "with_targeted_profiles"]


def active_profiles(cli: Iterable[str], environment: Mapping[str, str]) -> list[str]:
    """``--profile`` values (each may be comma-separated), else ``COMPOSE_PROFILES``."""
    chosen = [p.strip() for value in cli for p in value.split(",") if p.strip()]
    if chosen:
        return chosen
    return [p.strip() for p in environment.get("COMPOSE_PROFILES", "").split(",") if p.strip()]


def _profiles_of(service: Any) -> list[str]:
    if not isinstance(service, dict):
        return []
    profiles = service.get("profiles")
    if isinstance(profiles, list):
        return [str(p) for p in profiles if p is not None]
    return []


def all_profiles(config: Mapping[str, Any]) -> list[str]:
    """Every profile any service names, sorted (``config --profiles``)."""
    services = config.get("services")
    if not isinstance(services, dict):
        return []
    return sorted({p for s in services.values() for p in _profiles_of(s)})


def with_targeted_profiles(profiles: Iterable[str], config: Mapping[str, Any],
                           explicit_services: Iterable[str]) -> list[str]:
    """The active profiles plus those of the services named on the command line (the spec: a service
    targeted explicitly has its profiles added to the active set)."""
    out = list(dict.fromkeys(profiles))
    services = config.get("services")
    if isinstance(services, dict):
        for name in explicit_services:
            for profile in _profiles_of(services.get(name)):
                if profile not in out:
                    out.append(profile)
    return out


def apply_profiles(
    tree: dict[str, Any], profiles: Iterable[str], explicit_services: Iterable[str] = ()
) -> dict[str, dict[str, Any]]:
    """Remove the services no active profile enables from ``tree`` (in place); return them, as plain dicts."""
    services = tree.get("services")
    if not isinstance(services, dict):
        return {}
    explicit = set(explicit_services)
    active = set(with_targeted_profiles(profiles, tree, explicit))
    disabled: dict[str, dict[str, Any]] = {}
    for name in list(services):
        own = _profiles_of(services[name])
        if not own or "*" in active or active.intersection(own):
            continue
        disabled[name] = to_plain(services[name])
        if hasattr(services, "drop"):
            services.drop(name)
        else:
            del services[name]
    return disabled
