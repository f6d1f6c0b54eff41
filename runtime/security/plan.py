"""Everything the child must do to confine one process, decided in the parent, applied in the child.

Parent: ``build_plan(...)`` checks the user's settings (typed errors) and compiles the seccomp profile for the
final capability set. The plan is a plain value; ``to_dict``/``from_dict`` carry it as JSON over the socketpair.

Child (after the rootfs is ready and ``pivot_root`` is done; /proc/sys still writable)::

    apply_sysctls_and_paths(plan)   # sysctls, then masked and read-only paths
    apply_before_user(plan)         # rlimits, oom_score_adj, seccomp (without no_new_privs), bounding set
    <setgroups / setgid / setuid, chdir>
    apply_after_user(plan)          # capset, ambient clear, no_new_privs, seccomp (with no_new_privs)
    <execve>

The same order as runc: without ``no_new_privs`` the filter must go in while CAP_SYS_ADMIN is still effective.
"""
from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.security import capabilities, paths, privileges, rlimits, seccomp, sysctls

__all__ = ["SecurityPlan", "build_plan", "apply_sysctls_and_paths", "apply_before_user", "apply_after_user"]


@dataclass(frozen=True)
class SecurityPlan:
    capabilities: int = capabilities.DEFAULT_MASK
    seccomp_bpf: bytes = b""  # empty: unconfined
    seccomp_flags: int = 0  # SECCOMP_FILTER_FLAG_* from the profile's "flags"
    no_new_privs: bool = False
    rlimits: tuple[tuple[int, int, int], ...] = ()
    sysctls: Mapping[str, str] = field(default_factory=dict)
    oom_score_adj: int | None = None
    masked_paths: tuple[str, ...] = paths.DEFAULT_MASKED_PATHS
    readonly_paths: tuple[str, ...] = paths.DEFAULT_READONLY_PATHS

    def to_dict(self) -> dict[str, Any]:
        return {
            "capabilities": self.capabilities,
            "seccomp_bpf": base64.b64encode(self.seccomp_bpf).decode(),
            "seccomp_flags": self.seccomp_flags,
            "no_new_privs": self.no_new_privs,
            "rlimits": [list(r) for r in self.rlimits],
            "sysctls": dict(self.sysctls),
            "oom_score_adj": self.oom_score_adj,
            "masked_paths": list(self.masked_paths),
            "readonly_paths": list(self.readonly_paths),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SecurityPlan:
        return cls(
            capabilities=int(data["capabilities"]),
            seccomp_bpf=base64.b64decode(data.get("seccomp_bpf") or ""),
            seccomp_flags=int(data.get("seccomp_flags") or 0),
            no_new_privs=bool(data.get("no_new_privs")),
            rlimits=tuple((int(a), int(b), int(c)) for a, b, c in data.get("rlimits") or ()),
            sysctls=dict(data.get("sysctls") or {}),
            oom_score_adj=data.get("oom_score_adj"),
            masked_paths=tuple(data.get("masked_paths") or ()),
            readonly_paths=tuple(data.get("readonly_paths") or ()),
        )


def build_plan(*, cap_add: Iterable[str] = (), cap_drop: Iterable[str] = (), privileged: bool = False,
               seccomp_profile: str | dict[str, Any] | None = None, no_new_privs: bool = False,
               ulimits: Iterable[tuple[str, int, int]] = (), sysctl: Mapping[str, str] | None = None,
               oom_score_adj: int | None = None, namespaces: Iterable[str] = ("ipc", "net", "uts"),
               masked_paths: Iterable[str] | None = None,
               readonly_paths: Iterable[str] | None = None) -> SecurityPlan:
    """Parent side. ``seccomp_profile``: ``None``/``"default"``, ``"unconfined"``, JSON text, a dict or a path;
    privileged containers run unconfined unless a profile is named explicitly (as Docker). Privileged
    containers also get no masked or read-only paths. ``namespaces``: the private ones (decides which sysctls
    are allowed). Raises ``InvalidArgument`` for bad input."""
    from runtime.errors import InvalidArgument

    try:
        mask = capabilities.compute_mask(cap_add, cap_drop, privileged)
    except ValueError as err:
        raise InvalidArgument(str(err)) from err
    if not privileged:
        missing = capabilities.ungrantable(mask)
        if missing:
            raise InvalidArgument(f"cannot add {', '.join(missing)}: this host does not give the capability to the "
                                  "engine (it is missing from the engine's bounding set)")
    if privileged and seccomp_profile in (None, seccomp.DEFAULT, ""):
        seccomp_profile = seccomp.UNCONFINED
    profile = seccomp.load_profile(seccomp_profile)
    bpf = b"" if profile is None else seccomp.compile_profile(profile, capabilities.to_names(mask))
    ns = set(namespaces)
    checked = sysctls.check_sysctls(sysctl or {}, ipc_private="ipc" in ns, net_private="net" in ns,
                                    uts_private="uts" in ns)
    if oom_score_adj is not None and not -1000 <= oom_score_adj <= 1000:
        raise InvalidArgument(f"Invalid value {oom_score_adj}, range for oom score adj is [-1000, 1000]")
    if oom_score_adj is not None and oom_score_adj < privileges.oom_score_adj() \
            and not capabilities.read_status_caps()["CapEff"] >> capabilities.cap_number("SYS_RESOURCE") & 1:
        raise InvalidArgument(f"oom_score_adj {oom_score_adj} is below the engine's own "
                              f"({privileges.oom_score_adj()}): lowering it needs CAP_SYS_RESOURCE, which this "
                              "host does not give the engine")
    masked = () if privileged else tuple(paths.default_masked_paths() if masked_paths is None else masked_paths)
    ro = () if privileged else tuple(paths.DEFAULT_READONLY_PATHS if readonly_paths is None else readonly_paths)
    flags = 0 if profile is None else seccomp.profile_flags(profile)
    return SecurityPlan(capabilities=mask, seccomp_bpf=bpf, seccomp_flags=flags, no_new_privs=no_new_privs,
                        rlimits=tuple(rlimits.check_ulimits(ulimits)), sysctls=checked,
                        oom_score_adj=oom_score_adj, masked_paths=masked, readonly_paths=ro)


def apply_sysctls_and_paths(plan: SecurityPlan, proc: str = "/proc") -> None:
    """Child: write the sysctls, then mask and write-protect paths (this makes /proc/sys read-only)."""
    sysctls.apply_sysctls(plan.sysctls, proc)
    paths.mask_paths(plan.masked_paths)
    paths.readonly_paths(plan.readonly_paths)


def apply_before_user(plan: SecurityPlan) -> None:
    """Child, still uid 0 with the engine's capabilities."""
    rlimits.apply_rlimits(plan.rlimits)
    if plan.oom_score_adj is not None:
        privileges.set_oom_score_adj(plan.oom_score_adj)
    else:
        privileges.drop_inherited_oom_protection()
    if plan.seccomp_bpf and not plan.no_new_privs:
        seccomp.install_filter(plan.seccomp_bpf, plan.seccomp_flags)
    capabilities.prepare_capabilities(plan.capabilities)


def apply_after_user(plan: SecurityPlan) -> None:
    """Child, after the switch to the container's user; the last step before ``execve``."""
    capabilities.finish_capabilities(plan.capabilities)
    if plan.no_new_privs:
        privileges.set_no_new_privs()
        if plan.seccomp_bpf:
            seccomp.install_filter(plan.seccomp_bpf, plan.seccomp_flags)
