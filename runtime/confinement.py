"""What confines a container, from its spec: the security plan its init applies (capabilities, seccomp BPF,
rlimits, sysctls, masked and read-only paths), its device cgroup policy and its cgroup resources. Each refuses
what Docker refuses at create (``InvalidArgument``)."""
from __future__ import annotations

import dataclasses
import json
import threading
from typing import Any

from runtime.errors import InvalidArgument
from runtime.spec import ContainerSpec

__all__ = ["security_plan", "device_policy", "cgroup_resources", "check_block_devices"]

_PLAN_CACHE: dict[str, dict[str, Any]] = {}
_PLAN_CACHE_SIZE = 32
_plan_lock = threading.Lock()


def security_plan(spec: ContainerSpec, privileged: bool = False) -> dict[str, Any]:
    """The confinement the child applies, as JSON.

    Compiling the seccomp profile is the costly part (~1 ms) and most containers share their inputs: plans are
    kept by their inputs (a spec's seccomp is never a path, so the inputs say everything)."""
    from runtime.security import build_plan

    private = set(spec.namespaces) | ({"net"} if spec.netns_path else set())
    args: dict[str, Any] = dict(
        cap_add=list(spec.cap_add), cap_drop=list(spec.cap_drop), privileged=spec.privileged or privileged,
        seccomp_profile=spec.seccomp, no_new_privs=spec.no_new_privs,
        ulimits=[(u.name, u.soft, u.hard) for u in spec.ulimits], sysctl=dict(spec.sysctls),
        oom_score_adj=spec.oom_score_adj, namespaces=sorted(private),
        masked_paths=None if spec.masked_paths is None else list(spec.masked_paths),
        readonly_paths=None if spec.readonly_paths is None else list(spec.readonly_paths))
    key = json.dumps(args, sort_keys=True)
    with _plan_lock:
        cached = _PLAN_CACHE.get(key)
    if cached is not None:
        return cached
    plan: dict[str, Any] = build_plan(**args).to_dict()
    with _plan_lock:
        if len(_PLAN_CACHE) >= _PLAN_CACHE_SIZE:
            _PLAN_CACHE.pop(next(iter(_PLAN_CACHE)))
        _PLAN_CACHE[key] = plan
    return plan


def device_policy(spec: ContainerSpec) -> Any:
    """The device cgroup rules of ``spec``: all when privileged, else Docker's defaults, its devices and rules."""
    from runtime.cgroups.devices import device_policy as policy

    try:
        return policy(privileged=spec.privileged, devices=[(d.host_path, d.permissions) for d in spec.devices],
                      cgroup_rules=spec.device_cgroup_rules)
    except (ValueError, OSError) as err:
        raise InvalidArgument(f"devices: {err}") from err


def cgroup_resources(spec: ContainerSpec) -> Any:
    """The cgroup manager's ``Resources`` of ``spec``; ``InvalidArgument`` for limits it refuses."""
    from runtime.cgroups import resources_from

    try:
        return resources_from(dataclasses.asdict(spec.resources))
    except (ValueError, TypeError) as err:
        raise InvalidArgument(str(err)) from err


def check_block_devices(spec: ContainerSpec) -> None:
    """Each per-device I/O limit names a block device (``InvalidArgument`` otherwise)."""
    from runtime.cgroups.blkio import device_number

    r = spec.resources
    for device, _value in (*r.blkio_weight_device, *r.blkio_read_bps, *r.blkio_write_bps, *r.blkio_read_iops,
                           *r.blkio_write_iops):
        device_number(device)
