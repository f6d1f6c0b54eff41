"""The whole sequence: a plan built in the parent, carried as JSON, applied by a child that switches user and
execs - what the container's init does."""
from __future__ import annotations

import json
import os
import resource
import subprocess

import pytest

from runtime.errors import InvalidArgument
from runtime.security import SecurityPlan, apply_after_user, apply_before_user, build_plan
from runtime.security import capabilities as caps


def _status_of_exec() -> dict[str, str]:
    out = subprocess.run(["/bin/busybox", "cat", "/proc/self/status"], capture_output=True, text=True,
                         check=True).stdout
    return {k: v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


def test_defaults():
    plan = build_plan()
    assert plan.capabilities == caps.DEFAULT_MASK
    assert plan.seccomp_bpf
    assert "/proc/timer_list" in plan.masked_paths and "/proc/sys" in plan.readonly_paths
    assert SecurityPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan


def test_privileged_is_unconfined_unless_a_profile_is_named():
    plan = build_plan(privileged=True)
    assert plan.seccomp_bpf == b""
    assert plan.masked_paths == () and plan.readonly_paths == ()
    assert plan.capabilities == caps.bounding_mask() & caps.to_mask(caps.all_capabilities())
    assert build_plan(privileged=True, seccomp_profile=json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                      "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]})).seccomp_bpf


def test_bad_settings_are_invalid_arguments():
    with pytest.raises(InvalidArgument, match="unknown capability"):
        build_plan(cap_add=["WINGS"])
    with pytest.raises(InvalidArgument, match="not namespaced"):
        build_plan(sysctl={"kernel.panic": "1"})
    with pytest.raises(InvalidArgument, match="host's network namespace"):
        build_plan(sysctl={"net.ipv4.ip_forward": "1"}, namespaces=("ipc", "uts"))
    with pytest.raises(InvalidArgument, match="oom score adj"):
        build_plan(oom_score_adj=5000)
    with pytest.raises(InvalidArgument, match="invalid ulimit type"):
        build_plan(ulimits=[("files", 1, 1)])


def test_a_capability_the_host_withholds_is_refused_up_front():
    missing = caps.to_names(~caps.bounding_mask() & caps.to_mask(caps.all_capabilities()))
    if not missing:
        pytest.skip("the engine holds every capability here")
    with pytest.raises(InvalidArgument, match=missing[0]):
        build_plan(cap_add=[missing[0]])


@pytest.mark.root
@pytest.mark.parametrize("nnp", [False, True])
def test_child_applies_the_plan_then_execs_as_nobody(in_child, nnp):
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wire = json.dumps(build_plan(no_new_privs=nnp, ulimits=[("nofile", min(100, hard), min(200, hard))],
                                 oom_score_adj=300).to_dict())

    def child():
        plan = SecurityPlan.from_dict(json.loads(wire))
        apply_before_user(plan)
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
        apply_after_user(plan)
        status = _status_of_exec()
        return {"status": status, "oom": open("/proc/self/oom_score_adj").read().strip(),
                "nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE))}
    got = in_child(child)
    st = got["status"]
    assert int(st["CapBnd"], 16) == caps.DEFAULT_MASK
    assert int(st["CapEff"], 16) == 0
    assert st["Uid"].split()[0] == "65534"
    assert st["Seccomp"] == "2"
    assert st["NoNewPrivs"] == ("1" if nnp else "0")
    assert got["oom"] == "300"
    assert got["nofile"] == [min(100, hard), min(200, hard)]


@pytest.mark.root
def test_root_child_keeps_default_caps_and_unshare_is_blocked(in_child):
    wire = json.dumps(build_plan().to_dict())

    def child():
        from runtime import linux
        plan = SecurityPlan.from_dict(json.loads(wire))
        apply_before_user(plan)
        apply_after_user(plan)
        try:
            linux.unshare(linux.CLONE_NEWUTS)
            blocked = False
        except PermissionError:
            blocked = True
        return {"status": _status_of_exec(), "blocked": blocked}
    got = in_child(child)
    assert int(got["status"]["CapEff"], 16) == caps.DEFAULT_MASK
    assert got["blocked"]


def test_lowering_oom_score_without_cap_sys_resource_is_refused_up_front():
    from runtime.security import privileges
    if caps.read_status_caps()["CapEff"] >> caps.cap_number("SYS_RESOURCE") & 1:
        pytest.skip("the engine holds CAP_SYS_RESOURCE here: it may lower OOM scores")
    own = privileges.oom_score_adj()
    if own <= -1000:
        pytest.skip("the engine's own score is already the lowest")
    with pytest.raises(InvalidArgument, match="CAP_SYS_RESOURCE"):
        build_plan(oom_score_adj=own - 1)
    assert build_plan(oom_score_adj=min(own + 1, 1000)).oom_score_adj == min(own + 1, 1000)


def test_security_options_reflect_the_host():
    from runtime.security.features import seccomp_supported, security_options
    opts = security_options()
    assert ("name=seccomp,profile=builtin" in opts) == seccomp_supported()
    assert "name=no-new-privileges" in security_options(no_new_privileges=True)
