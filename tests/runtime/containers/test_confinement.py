"""Limits and confinement seen from inside: memory OOM kill reported, pids limit, seccomp default and unconfined,
no_new_privs, privileged."""
from __future__ import annotations

import os

import pytest

from runtime.spec import Resources
from tests.runtime.containers.helpers import run

pytestmark = pytest.mark.root

_MIB = 1024 * 1024


def test_memory_limit_oom_kill_is_reported(svc, rootfs):
    from runtime.spec import ContainerSpec

    # a shell variable far past the limit: the kernel's OOM killer ends the container
    cid = svc.create(None, ContainerSpec(args=("sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo no"),
                                         rootfs=rootfs, resources=Resources(memory=32 * _MIB, memory_swap=32 * _MIB)))
    svc.start(cid)
    code = svc.wait(cid, 60)
    state = svc.inspect(cid)
    assert state.oom_killed is True
    assert code in (137, 1) and code == state.exit_code  # 137 when pid 1 itself was killed


def test_no_oom_flag_without_an_oom(svc, rootfs):
    from runtime.spec import ContainerSpec

    cid = svc.create(None, ContainerSpec(args=("true",), rootfs=rootfs, resources=Resources(memory=32 * _MIB)))
    svc.start(cid)
    assert svc.wait(cid, 30) == 0
    assert svc.inspect(cid).oom_killed is False


def test_pids_limit_refuses_forks(svc, rootfs):
    # after the refusal only shell builtins run: every pid is taken
    script = ("sh -c 'i=0; while [ $i -lt 30 ]; do sleep 30 & i=$((i+1)); done' 2>/tmp/err; echo rc=$?; "
              "n=0; for d in /proc/[0-9]*; do n=$((n+1)); done; echo $n; kill -9 -1; read err < /tmp/err; "
              "echo \"$err\"")
    code, out, _ = run(svc, rootfs, "sh", "-c", script, resources=Resources(pids_limit=10))
    assert code == 0
    rc, count, err = out.split("\n", 2)
    assert rc == "rc=2" and "can't fork" in err
    assert 8 <= int(count) <= 10  # the limit was reached (the refused shell itself has exited since)


def test_default_seccomp_blocks_unshare_and_unconfined_allows_it(svc, rootfs):
    code, _, err = run(svc, rootfs, "unshare", "-U", "true")
    assert code != 0 and "Operation not permitted" in err
    assert run(svc, rootfs, "unshare", "-U", "true", seccomp="unconfined")[0] == 0
    out = run(svc, rootfs, "grep", "^Seccomp:", "/proc/self/status", seccomp="unconfined")[1]
    assert out.split() == ["Seccomp:", "0"]
    out = run(svc, rootfs, "grep", "^Seccomp:", "/proc/self/status")[1]
    assert out.split() == ["Seccomp:", "2"]


def test_no_new_privs(svc, rootfs):
    assert run(svc, rootfs, "grep", "NoNewPrivs", "/proc/self/status")[1].split()[1] == "0"
    assert run(svc, rootfs, "grep", "NoNewPrivs", "/proc/self/status", no_new_privs=True)[1].split()[1] == "1"


def test_privileged_has_every_capability_and_no_masks(svc, rootfs):
    code, out, _ = run(svc, rootfs, "sh", "-c", "grep CapEff /proc/self/status; grep -c ' /proc/keys ' /proc/mounts",
                       privileged=True)
    lines = out.split("\n")
    with open("/proc/self/status") as fh:  # every capability the engine itself may hand out
        bounding = next(line.split()[1] for line in fh if line.startswith("CapBnd"))
    assert lines[0].split()[1] == bounding
    assert lines[1] == "0"


def test_the_container_sees_its_own_cgroup_read_only(svc, rootfs):
    script = ("if [ -f /sys/fs/cgroup/cgroup.controllers ]; then cat /sys/fs/cgroup/memory.max; "
              "else cat /sys/fs/cgroup/memory/memory.limit_in_bytes; fi; "
              "mkdir /sys/fs/cgroup/x 2>/dev/null && echo writable || echo read-only")
    code, out, _ = run(svc, rootfs, "sh", "-c", script, resources=Resources(memory=48 * _MIB))
    assert code == 0
    assert out.split() == [str(48 * _MIB), "read-only"]


def test_device_nodes_can_be_made_but_not_used_unless_privileged(svc, rootfs):
    # /dev/cpu_dma_latency (c 10:259): readable by root on the host, outside Docker's default device list
    if not os.path.exists("/dev/cpu_dma_latency"):
        pytest.skip("the host has no /dev/cpu_dma_latency to test with")
    st = os.stat("/dev/cpu_dma_latency")
    major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    script = f"mknod /tmp/dev c {major} {minor} && head -c 4 /tmp/dev | wc -c"
    code, out, err = run(svc, rootfs, "sh", "-c", script)
    assert out.strip() == "0" and "Operation not permitted" in err  # mknod is allowed (as in Docker), use is not
    assert run(svc, rootfs, "sh", "-c", script, privileged=True)[1].strip() == "4"
    code, out, _ = run(svc, rootfs, "sh", "-c", "head -c 4 /dev/cpu_dma_latency | wc -c", privileged=True)
    assert out.strip() == "4"  # privileged containers get the host's device nodes


def test_cgroup_v2_manager_join_freeze_and_namespace(tmp_path, rootfs, cgroup_parent):
    """The v2 path (most users' hosts) on whatever unified hierarchy this host has."""
    from runtime.cgroups import CgroupMode, new_manager, remove_parent
    from runtime.cgroups.v2 import v2_mountpoint
    from runtime.containers import ContainerService
    from runtime.spec import ContainerSpec

    if v2_mountpoint() is None:
        pytest.skip("no cgroup2 hierarchy mounted")
    svc = ContainerService(tmp_path / "v2", cgroup_parent=cgroup_parent,
                           cgroups=lambda name, parent: new_manager(name, parent, CgroupMode.V2))
    try:
        cid = svc.create(None, ContainerSpec(args=("sh", "-c", "grep '^0::' /proc/self/cgroup; read x"),
                                             rootfs=rootfs, open_stdin=True, stdin_once=True))
        conn = svc.start(cid, attach={"stdin": True, "stdout": False, "stderr": False})
        assert svc.inspect(cid).pid in svc.cgroup(cid).pids()  # (grep may still be there too)
        svc.pause(cid)
        assert svc.cgroup(cid).frozen()
        svc.unpause(cid)
        conn.sendall(b"go\n")
        conn.close()
        assert svc.wait(cid, 30) == 0
        assert open(svc.log_path(cid)).read().count('"log":"0::/\\n"') == 1  # its own cgroup namespace root
        svc.remove(cid)
    finally:
        for state in svc.list():
            svc.remove(state.id, force=True)
        svc.close()
        remove_parent(cgroup_parent, CgroupMode.V2)


def test_update_resources_applies_now_and_after_a_restart(svc, rootfs):
    from runtime.spec import ContainerSpec
    from tests.runtime.containers.helpers import read_log

    show = "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max"
    cid = svc.create(None, ContainerSpec(args=("sh", "-c", show), rootfs=rootfs, resources=Resources(pids_limit=50)))
    svc.start(cid)
    assert svc.wait(cid, 30) == 0
    svc.update_resources(cid, Resources(pids_limit=60))  # stopped: kept for the next start
    svc.start(cid)
    assert svc.wait(cid, 30) == 0
    assert read_log(svc, cid)[0].split() == ["50", "60"]
    assert svc.inspect(cid).spec.resources.pids_limit == 60
    running = svc.create(None, ContainerSpec(args=("sleep", "100"), rootfs=rootfs, resources=Resources(pids_limit=50)))
    svc.start(running)
    svc.update_resources(running, Resources(pids_limit=70))  # running: applied at once
    assert svc.cgroup(running).stats()["pids_stats"].get("limit") == 70


def test_update_of_a_stopped_container_refuses_what_docker_refuses(svc, rootfs):
    """Docker's limit rules hold for ``docker update`` of a stopped container too: a period it refuses is not kept
    (it would make every later start fail)."""
    from runtime.errors import InvalidArgument
    from runtime.spec import ContainerSpec

    cid = svc.create(None, ContainerSpec(args=("true",), rootfs=rootfs, resources=Resources(pids_limit=50)))
    with pytest.raises(InvalidArgument, match="CPU cfs period"):
        svc.update_resources(cid, Resources(cpu_period=10))
    assert svc.inspect(cid).spec.resources == Resources(pids_limit=50)
    svc.start(cid)
    assert svc.wait(cid, 30) == 0


def test_a_mapped_host_device_is_usable(svc, rootfs):
    from runtime.spec import Device

    if not os.path.exists("/dev/cpu_dma_latency"):
        pytest.skip("the host has no /dev/cpu_dma_latency to test with")
    code, out, _ = run(svc, rootfs, "sh", "-c", "head -c 4 /dev/lat | wc -c",
                       devices=(Device("/dev/cpu_dma_latency", "/dev/lat"),))
    assert (code, out.strip()) == (0, "4")
