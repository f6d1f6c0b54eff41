"""Ulimits, sysctls, masked/read-only paths, no_new_privs and oom_score_adj, in real forked children."""
from __future__ import annotations

import errno
import os
import resource

import pytest

from runtime import linux
from runtime.errors import InvalidArgument
from runtime.security import capabilities as caps
from runtime.security import paths, privileges, rlimits, sysctls


# -- ulimits -------------------------------------------------------------------------------------------------------

def test_parse_ulimit():
    assert rlimits.parse_ulimit("nofile=1024:2048") == ("nofile", 1024, 2048)
    assert rlimits.parse_ulimit("nproc=64") == ("nproc", 64, 64)
    with pytest.raises(InvalidArgument):
        rlimits.parse_ulimit("nofile")
    with pytest.raises(InvalidArgument):
        rlimits.parse_ulimit("nofile=lots")


def test_check_ulimits():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    got = rlimits.check_ulimits([("nofile", 100, min(hard, 200)), ("core", -1, -1)][:1])
    assert got == [(resource.RLIMIT_NOFILE, 100, min(hard, 200))]
    with pytest.raises(InvalidArgument, match="invalid ulimit type"):
        rlimits.check_ulimits([("files", 1, 1)])
    with pytest.raises(InvalidArgument, match="soft limit 300 is above the hard limit 200"):
        rlimits.check_ulimits([("nofile", 300, 200)])
    with pytest.raises(InvalidArgument, match="given twice"):
        rlimits.check_ulimits([("nofile", 1, 1), ("NOFILE", 1, 1)])


def test_raising_a_hard_limit_without_cap_sys_resource_is_a_clear_error():
    if caps.read_status_caps()["CapEff"] >> caps.cap_number("SYS_RESOURCE") & 1:
        pytest.skip("the engine holds CAP_SYS_RESOURCE here: it may raise hard limits")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with pytest.raises(InvalidArgument, match="CAP_SYS_RESOURCE"):
        rlimits.check_ulimits([("nofile", 10, hard + 1)])


@pytest.mark.root
def test_child_sets_nofile_and_reads_it_back(in_child):
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = (min(256, hard), min(512, hard))
    plan = rlimits.check_ulimits([("nofile", *want)])

    def child():
        rlimits.apply_rlimits(plan)
        got = resource.getrlimit(resource.RLIMIT_NOFILE)
        with open("/proc/self/limits") as fh:
            line = next(x for x in fh if x.startswith("Max open files"))
        return [list(got), line.split()[3:5]]
    got, proc_line = in_child(child)
    assert tuple(got) == want
    assert proc_line == [str(want[0]), str(want[1])]


@pytest.mark.root
def test_child_raising_past_hard_limit_explains_why(in_child):
    if caps.read_status_caps()["CapEff"] >> caps.cap_number("SYS_RESOURCE") & 1:
        pytest.skip("the engine holds CAP_SYS_RESOURCE here: it may raise hard limits")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with pytest.raises(Exception, match="CAP_SYS_RESOURCE"):
        in_child(lambda: rlimits.apply_rlimits([(resource.RLIMIT_NOFILE, 10, hard + 1)]))


# -- sysctls -------------------------------------------------------------------------------------------------------

def test_sysctl_rules():
    ok = sysctls.check_sysctls({"net/ipv4/ip_forward": "1", "kernel.shmmax": "1000", "fs.mqueue.msg_max": "20",
                                "kernel.domainname": "example"})
    assert ok == {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000", "fs.mqueue.msg_max": "20",
                  "kernel.domainname": "example"}
    for bad, msg in (({"kernel.panic": "1"}, "not namespaced"), ({"vm.swappiness": "1"}, "not namespaced"),
                     ({"kernel.hostname": "x"}, "set the container's hostname")):
        with pytest.raises(InvalidArgument, match=msg):
            sysctls.check_sysctls(bad)
    with pytest.raises(InvalidArgument, match="host's network namespace"):
        sysctls.check_sysctls({"net.core.somaxconn": "1"}, net_private=False)
    with pytest.raises(InvalidArgument, match="host's ipc namespace"):
        sysctls.check_sysctls({"kernel.msgmax": "1"}, ipc_private=False)


@pytest.mark.root
def test_child_writes_namespaced_sysctls_and_host_is_untouched(in_child):
    host_forward = open("/proc/sys/net/ipv4/ip_forward").read()
    host_shmmni = open("/proc/sys/kernel/shmmni").read()
    new_forward = "0" if host_forward.strip() == "1" else "1"

    def child():
        linux.unshare(linux.CLONE_NEWNET | linux.CLONE_NEWIPC)
        sysctls.apply_sysctls({"net.ipv4.ip_forward": new_forward, "kernel.shmmni": "1234"})
        return [open("/proc/sys/net/ipv4/ip_forward").read().strip(), open("/proc/sys/kernel/shmmni").read().strip()]
    assert in_child(child) == [new_forward, "1234"]
    assert open("/proc/sys/net/ipv4/ip_forward").read() == host_forward
    assert open("/proc/sys/kernel/shmmni").read() == host_shmmni


@pytest.mark.root
def test_unknown_sysctl_names_the_key(in_child):
    def child():
        linux.unshare(linux.CLONE_NEWNET)
        sysctls.apply_sysctls({"net.ipv4.no_such_knob": "1"})
    with pytest.raises(Exception, match="net.ipv4.no_such_knob"):
        in_child(child)


# -- masked and read-only paths ------------------------------------------------------------------------------------

def _private_mount_ns() -> None:
    linux.unshare(linux.CLONE_NEWNS)
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)  # nothing propagates back to the host


@pytest.mark.root
def test_masked_paths_hide_files_and_dirs(in_child):
    files = [p for p in paths.DEFAULT_MASKED_PATHS if os.path.isfile(p)]
    dirs = [p for p in paths.DEFAULT_MASKED_PATHS if os.path.isdir(p)]
    if not files:
        pytest.skip("none of the masked /proc files exists on this kernel")

    def child():
        _private_mount_ns()
        paths.mask_paths(paths.DEFAULT_MASKED_PATHS + ("/proc/no-such-entry",))
        out = {"files": {f: open(f, "rb").read(64).decode() for f in files},
               "dirs": {d: os.listdir(d) for d in dirs}}
        for d in dirs:
            try:
                open(os.path.join(d, "x"), "w").close()
                out["dir_write"] = 0
            except OSError as err:
                out["dir_write"] = err.errno
        return out
    got = in_child(child)
    assert all(v == "" for v in got["files"].values()), got["files"]
    assert all(v == [] for v in got["dirs"].values()), got["dirs"]
    if dirs:
        assert got["dir_write"] == errno.EROFS
    assert any(open(f, "rb").read(64) for f in files), "the host should still see the real files"


@pytest.mark.root
def test_readonly_paths_refuse_writes(in_child):
    def child():
        _private_mount_ns()
        paths.readonly_paths(paths.DEFAULT_READONLY_PATHS)
        try:
            with open("/proc/sys/kernel/shmmni", "w") as fh:
                fh.write("4096")
        except OSError as err:
            return [err.errno, open("/proc/sys/kernel/shmmni").read().strip()]
        return [0, ""]
    code, value = in_child(child)
    assert code == errno.EROFS
    assert value.isdigit()
    with open("/proc/self/mountinfo") as fh:
        assert not any(" /proc/sys " in line for line in fh), "the read-only bind leaked into the host"


# -- privileges ----------------------------------------------------------------------------------------------------

@pytest.mark.root
def test_no_new_privs(in_child):
    def child():
        before = privileges.no_new_privs()
        privileges.set_no_new_privs()
        status = open("/proc/self/status").read()
        return [before, privileges.no_new_privs(), "NoNewPrivs:\t1" in status]
    assert in_child(child) == [False, True, True]


@pytest.mark.root
def test_oom_score_adj(in_child):
    def child():
        privileges.set_oom_score_adj(500)
        return open("/proc/self/oom_score_adj").read().strip()
    assert in_child(child) == "500"
    with pytest.raises(ValueError):
        privileges.set_oom_score_adj(1001)


def test_default_masked_paths_expand_per_cpu_globs():
    import glob as globmod
    expanded = paths.default_masked_paths()
    assert expanded[:len(paths.DEFAULT_MASKED_PATHS)] == paths.DEFAULT_MASKED_PATHS
    assert set(expanded[len(paths.DEFAULT_MASKED_PATHS):]) == set(
        globmod.glob("/sys/devices/system/cpu/cpu*/thermal_throttle"))


@pytest.mark.root
def test_container_does_not_inherit_the_engines_oom_protection(in_child):
    def positive():
        privileges.set_oom_score_adj(300)
        privileges.drop_inherited_oom_protection()
        return privileges.oom_score_adj()
    assert in_child(positive) == 300

    def child():
        try:
            privileges.set_oom_score_adj(-500)  # as an engine protected by its service manager would run
        except PermissionError:
            return None
        privileges.drop_inherited_oom_protection()
        return privileges.oom_score_adj()
    got = in_child(child)
    if got is None:
        pytest.skip("no CAP_SYS_RESOURCE here: a negative (protected) score cannot even be set up")
    assert got == 0
