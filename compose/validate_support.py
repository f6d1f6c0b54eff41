"""Valid Compose that pycompose reads but does not act on: each such key is a warning, by name, never dropped
in silence (the Compose Specification asks for this). Edit the tables as the engine learns new tricks.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Protocol

__all__ = ["SUPPORT_RULES", "UNSUPPORTED_SERVICE_KEYS", "UNSUPPORTED_DEPLOY_KEYS"]

KeyPath = tuple[str | int, ...]


class Checker(Protocol):
    config: dict[str, Any]

    def warn(self, path: KeyPath, message: str) -> None: ...

    def each_service(self) -> Iterator[tuple[str, dict[str, Any], KeyPath]]: ...

    def declared(self, kind: str) -> dict[str, Any]: ...


UNSUPPORTED_SERVICE_KEYS = {
    "credential_spec": "Windows only",
    "isolation": "Windows only",
    "cpu_count": "Windows only",
    "cpu_percent": "Windows only",
    "gpus": "no GPU support",
    "provider": "provider services are not implemented",
    "models": "AI models are not implemented",
    "storage_opt": "the overlay storage takes no options",
    "userns_mode": "user namespaces are not implemented",
    "runtime": "pycompose has one runtime",
    "cpu_rt_period": "real-time scheduling is not configured",
    "cpu_rt_runtime": "real-time scheduling is not configured",
    "pull_refresh_after": "images are not refreshed on a schedule",
}
_IFNAME_OPT = "com.docker.network.endpoint.ifname"  # the one endpoint driver option the bridge driver takes
UNSUPPORTED_DEPLOY_KEYS = {
    "placement": "swarm only",
    "update_config": "swarm only",
    "rollback_config": "swarm only",
    "endpoint_mode": "swarm only",
}


def _unsupported(c: Checker) -> None:
    if "version" in c.config:
        c.warn(("version",), "the 'version' key is obsolete and ignored; remove it")
    for key in c.config.get("models") or {}:
        c.warn(("models", key), "AI models are not implemented by pycompose; ignored")
    for name, service, path in c.each_service():
        for key, why in UNSUPPORTED_SERVICE_KEYS.items():
            if service.get(key) not in (None, [], {}):
                c.warn(path + (key,), f"{key!r} is not supported by pycompose ({why}); ignored")
        driver = (service.get("logging") or {}).get("driver")
        if driver not in (None, "json-file", "local", "none"):
            c.warn(path + ("logging", "driver"), f"logging driver {driver!r} is not supported; pycompose keeps "
                                                 "json-file logs")
        deploy = service.get("deploy") or {}
        for key, why in UNSUPPORTED_DEPLOY_KEYS.items():
            if deploy.get(key) not in (None, [], {}):
                c.warn(path + ("deploy", key), f"'deploy.{key}' is not supported by pycompose ({why}); ignored")
        if deploy.get("mode") not in (None, "replicated"):
            c.warn(path + ("deploy", "mode"), f"'deploy.mode: {deploy['mode']}' is swarm only; one replica per "
                                              "host means one here")
        networks = service.get("networks")
        for net, attach in (networks.items() if isinstance(networks, dict) else ()):
            opts = attach.get("driver_opts") if isinstance(attach, dict) else None
            for opt in (opts if isinstance(opts, dict) else {}):
                if opt != _IFNAME_OPT:
                    c.warn(path + ("networks", net, "driver_opts", opt), f"endpoint driver option {opt!r} is not "
                                                                         f"supported by pycompose; ignored")
        reservations = (deploy.get("resources") or {}).get("reservations") or {}
        for key in ("devices", "generic_resources"):
            if reservations.get(key):
                c.warn(path + ("deploy", "resources", "reservations", key), f"'{key}' reservations are not "
                                                                             "supported by pycompose; ignored")
    for key, spec in c.declared("networks").items():
        spec = spec if isinstance(spec, dict) else {}
        driver = spec.get("driver")
        if driver not in (None, "bridge") and not spec.get("external"):
            c.warn(("networks", key, "driver"), f"network driver {driver!r} is not supported; pycompose creates "
                                                "bridge networks")
    for key, spec in c.declared("volumes").items():
        driver = (spec or {}).get("driver")
        if driver not in (None, "local") and not (spec or {}).get("external"):
            c.warn(("volumes", key, "driver"), f"volume driver {driver!r} is not supported; pycompose creates "
                                               "local volumes")
    for kind in ("secrets", "configs"):
        for key, spec in c.declared(kind).items():
            for opt in ("driver", "template_driver", "driver_opts"):
                if (spec or {}).get(opt):
                    c.warn((kind, key, opt), f"'{opt}' is not supported by pycompose; ignored")


SUPPORT_RULES: list[Callable[[Checker], None]] = [_unsupported]
