"""``/_ping`` (GET and HEAD), ``/version``, ``/info``, ``/system/df`` and ``/events``."""
from __future__ import annotations

import asyncio
import os
import platform
import socket
import time
from typing import TYPE_CHECKING, Any

from runtime.daemon.events import events_handler
from runtime.daemon.router import API_VERSION, MIN_API_VERSION, Router
from runtime.daemon.server import Reply, Request, Response, json_response

if TYPE_CHECKING:
    from runtime.daemon.app import Engine

__all__ = ["register", "ENGINE_VERSION", "ping_headers"]

ENGINE_VERSION = "0.1.0"
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


def ping_headers() -> dict[str, str]:
    return {"API-Version": API_VERSION, "Docker-Experimental": "false", "OSType": "linux",
            "Builder-Version": "1", "Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"}


def _os_name() -> str:
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _mem_total() -> int:
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _ip_forwarding() -> bool:
    try:
        with open("/proc/sys/net/ipv4/ip_forward") as fh:
            return fh.read().strip() == "1"
    except OSError:
        return False


def _version(engine: Engine) -> dict[str, Any]:
    arch = _ARCH.get(platform.machine(), platform.machine())
    details = {"ApiVersion": API_VERSION, "Arch": arch, "BuildTime": "", "Experimental": "false",
               "GitCommit": "", "GoVersion": f"python{platform.python_version()}", "KernelVersion": platform.release(),
               "MinAPIVersion": MIN_API_VERSION, "Os": "linux"}
    return {"Platform": {"Name": "pycompose Engine"},
            "Components": [{"Name": "Engine", "Version": ENGINE_VERSION, "Details": details}],
            "Version": ENGINE_VERSION, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "", "GoVersion": details["GoVersion"], "Os": "linux", "Arch": arch,
            "KernelVersion": platform.release(), "BuildTime": "", "Experimental": False}


def _info(engine: Engine) -> dict[str, Any]:
    from runtime.cgroups.features import feature_warnings, host_features
    from runtime.security.features import security_options

    counts = engine.container_counts()
    cfg = engine.config
    features = host_features()
    return {
        "ID": engine.engine_id, "Containers": sum(counts.values()), "ContainersRunning": counts["running"],
        "ContainersPaused": counts["paused"], "ContainersStopped": counts["stopped"],
        "Images": engine.image_count(), "Driver": "overlay", "DriverStatus": [["Backing Filesystem", "overlayfs"]],
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "none"], "Authorization": None,
                    "Log": ["json-file"]},
        **features, "IPv4Forwarding": _ip_forwarding(), "BridgeNfIptables": False,
        "BridgeNfIp6tables": False, "Debug": cfg.debug, "NFd": len(os.listdir("/proc/self/fd")),
        "NGoroutines": len(asyncio.all_tasks()), "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z",
                                                                              time.gmtime()),
        "LoggingDriver": cfg.log_driver,
        "NEventsListener": engine.bus.listeners, "KernelVersion": platform.release(), "OperatingSystem": _os_name(),
        "OSVersion": "", "OSType": "linux", "Architecture": platform.machine(),
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": None,
                           "AllowNondistributableArtifactsHostnames": None,
                           "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                           "IndexConfigs": {r: {"Name": r, "Mirrors": [], "Secure": False, "Official": False}
                                            for r in cfg.insecure_registries},
                           "Mirrors": list(cfg.registry_mirrors)},
        "GenericResources": None, "NCPU": os.cpu_count() or 1, "MemTotal": _mem_total(),
        "DockerRootDir": str(cfg.data_root), "HttpProxy": os.environ.get("HTTP_PROXY", ""),
        "HttpsProxy": os.environ.get("HTTPS_PROXY", ""), "NoProxy": os.environ.get("NO_PROXY", ""),
        "Name": socket.gethostname(), "Labels": [], "ExperimentalBuild": False, "ServerVersion": ENGINE_VERSION,
        "Runtimes": {"pycompose": {"path": "pycompose-runtime"}}, "DefaultRuntime": "pycompose",
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": False,
                  "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": True, "Isolation": "", "InitBinary": "", "ContainerdCommit": {"ID": ""},
        "RuncCommit": {"ID": ""}, "InitCommit": {"ID": ""},
        "SecurityOptions": security_options(), "CDISpecDirs": [], "Warnings": feature_warnings(),
        "DefaultAddressPools": [{"Base": str(p.base), "Size": p.size} for p in cfg.default_address_pools],
    }


def register(router: Router, engine: Engine) -> None:
    async def ping(req: Request) -> Response:
        return Response(200, b"" if req.method == "HEAD" else b"OK", "text/plain; charset=utf-8", ping_headers())

    async def version(req: Request) -> Response:
        return json_response(_version(engine))

    async def info(req: Request) -> Response:
        return json_response(_info(engine))

    async def df(req: Request) -> Response:
        return json_response(await engine.disk_usage())

    async def events(req: Request) -> Reply:
        return await events_handler(req, engine.bus)

    router.add("GET", "/_ping", ping)
    router.add("HEAD", "/_ping", ping)
    router.add("GET", "/version", version)
    router.add("GET", "/info", info)
    router.add("GET", "/system/df", df)
    router.add("GET", "/events", events)
