"""The default profile and user profiles, compiled by libseccomp and installed in a real forked child."""
from __future__ import annotations

import ctypes
import errno
import json
import os
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime import linux
from runtime.errors import InvalidArgument
from runtime.security import capabilities as caps
from runtime.security import libseccomp, seccomp

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _raw_syscall(name: str, *args: int) -> int:
    """errno of a raw syscall (0 on success)."""
    nr = libseccomp.resolve_syscall(name)
    assert nr is not None and nr >= 0, name
    ret = _libc.syscall(nr, *(ctypes.c_long(a) for a in args))
    return ctypes.get_errno() if ret < 0 else 0


def _probe() -> dict[str, int]:
    """What a confined process can do: errno per operation, 0 = worked."""
    out: dict[str, int] = {}
    try:
        linux.unshare(linux.CLONE_NEWNS)
        out["unshare"] = 0
    except OSError as err:
        out["unshare"] = err.errno
    out["keyctl"] = _raw_syscall("keyctl", 0, 0, 0, 0, 0)  # KEYCTL_GET_KEYRING_ID of nothing
    out["clone3"] = _raw_syscall("clone3", 0, 0)
    out["getpid"] = 0 if os.getpid() > 0 else -1
    r, w = os.pipe()
    out["pipe_io"] = 0 if (os.write(w, b"x"), os.read(r, 1))[1] == b"x" else -1
    for family, key in ((socket.AF_INET, "socket_inet"), (40, "socket_vsock"), (38, "socket_alg")):
        try:
            socket.socket(family, socket.SOCK_STREAM if family != 38 else socket.SOCK_SEQPACKET).close()
            out[key] = 0
        except OSError as err:
            out[key] = err.errno
    return out


def _confined(bpf: bytes):
    def child():
        if bpf:
            seccomp.install_filter(bpf)
        return _probe()
    return child


def test_default_profile_is_dockers_shape():
    profile = seccomp.default_profile()
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    assert profile["defaultErrnoRet"] == errno.EPERM
    allowed = set(profile["syscalls"][0]["names"])
    assert {"read", "write", "execve", "capset", "setuid", "prctl"} <= allowed
    assert not {"keyctl", "add_key", "request_key", "mount", "unshare", "setns", "clone", "bpf", "ptrace",
                "kexec_load", "init_module", "reboot", "open_by_handle_at"} & allowed


def test_load_profile_forms(tmp_path):
    assert seccomp.load_profile("unconfined") is None
    assert seccomp.load_profile(None) == seccomp.default_profile()
    assert seccomp.load_profile("default") == seccomp.default_profile()
    text = json.dumps({"defaultAction": "SCMP_ACT_ALLOW"})
    assert seccomp.load_profile(text) == {"defaultAction": "SCMP_ACT_ALLOW"}
    path = tmp_path / "p.json"
    path.write_text(text)
    assert seccomp.load_profile(str(path)) == {"defaultAction": "SCMP_ACT_ALLOW"}
    assert seccomp.load_profile(path) == {"defaultAction": "SCMP_ACT_ALLOW"}


@pytest.mark.parametrize(("profile", "msg"), [
    ("{not json", "decoding seccomp profile"),
    ("/nonexistent/profile.json", "opening seccomp profile"),
    ({"syscalls": []}, "defaultAction is missing"),
    ({"defaultAction": "SCMP_ACT_MAYBE"}, "unknown action"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]}, "names no syscall"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                                                        "args": [{"index": 0, "op": "SCMP_CMP_ABOUT"}]}]},
     "unknown comparison"),
    ({"defaultAction": "SCMP_ACT_NOTIFY"}, "not supported"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "read", "action": "SCMP_ACT_ERRNO"}]},
     "must be a list"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                                                        "args": [{"index": 9, "op": "SCMP_CMP_EQ"}]}]},
     "index must be 0-5"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                                                        "args": [{"index": 0, "value": "x", "op": "SCMP_CMP_EQ"}]}]},
     "must be an integer"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {}}, "must be a list"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_FAST"]}, "flags must be a list"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": "EPERM"}, "errnoRet must be an errno number"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                                                        "includes": {"caps": "CAP_SYS_ADMIN"}}]}, "includes"),
])
def test_bad_profiles_are_invalid_arguments(profile, msg):
    with pytest.raises(InvalidArgument, match=msg):
        seccomp.load_profile(profile)


def test_compiled_program_depends_on_capabilities():
    profile = seccomp.default_profile()
    plain = seccomp.compile_profile(profile, caps.DEFAULT_CAPABILITIES)
    admin = seccomp.compile_profile(profile, [*caps.DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"])
    assert plain and len(plain) % 8 == 0
    assert plain != admin
    assert seccomp.compile_profile(profile, caps.DEFAULT_CAPABILITIES) == plain  # cached, stable


@pytest.mark.root
def test_default_profile_blocks_namespaces_and_keyring(in_child):
    bpf = seccomp.compile_profile(seccomp.default_profile(), caps.DEFAULT_CAPABILITIES)
    got = in_child(_confined(bpf))
    assert got["unshare"] == errno.EPERM
    assert got["keyctl"] == errno.EPERM
    assert got["clone3"] == errno.ENOSYS  # as Docker: libc falls back to clone
    assert got["socket_vsock"] == errno.EPERM
    assert got["socket_alg"] == errno.EPERM
    assert got["getpid"] == 0 and got["pipe_io"] == 0 and got["socket_inet"] == 0


@pytest.mark.root
def test_unconfined_allows_them(in_child):
    got = in_child(_confined(b""))
    assert got["unshare"] == 0
    assert got["keyctl"] != errno.EPERM  # the kernel's own answer for a bogus request, not the filter's
    assert got["clone3"] != errno.ENOSYS


@pytest.mark.root
def test_cap_sys_admin_reopens_unshare(in_child):
    bpf = seccomp.compile_profile(seccomp.default_profile(), [*caps.DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"])
    got = in_child(_confined(bpf))
    assert got["unshare"] == 0
    assert got["keyctl"] == errno.EPERM


@pytest.mark.root
def test_fork_and_exec_work_under_the_default_profile(in_child):
    bpf = seccomp.compile_profile(seccomp.default_profile(), caps.DEFAULT_CAPABILITIES)

    def child():
        import subprocess
        seccomp.install_filter(bpf)
        return subprocess.run(["/bin/busybox", "echo", "hi"], capture_output=True, text=True, check=True).stdout
    assert in_child(child) == "hi\n"


@pytest.mark.root
def test_user_profile_from_a_file(in_child, tmp_path):
    path = tmp_path / "profile.json"
    path.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES},
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 7, "op": "SCMP_CMP_EQ"}]},
            {"names": ["no_such_syscall_anywhere"], "action": "SCMP_ACT_ERRNO"},
        ],
    }))
    bpf = seccomp.compile_profile(seccomp.load_profile(str(path)), caps.DEFAULT_CAPABILITIES)
    target = tmp_path / "made"

    def child():
        seccomp.install_filter(bpf)
        out = {"getppid": _raw_syscall("getppid", 7), "getppid0": _raw_syscall("getppid", 0)}
        try:
            os.mkdir(target)
            out["mkdir"] = 0
        except OSError as err:
            out["mkdir"] = err.errno
        return out
    got = in_child(child)
    assert got == {"mkdir": errno.EACCES, "getppid": errno.EPERM, "getppid0": 0}
    assert not target.exists()


@pytest.mark.root
def test_install_without_privilege_or_nnp_is_refused(in_child):
    bpf = seccomp.compile_profile({"defaultAction": "SCMP_ACT_ALLOW",
                                   "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}, [])

    def child():
        caps.apply_capabilities(caps.DEFAULT_MASK)  # no CAP_SYS_ADMIN, no no_new_privs
        try:
            seccomp.install_filter(bpf)
        except OSError as err:
            return err.errno
        return 0
    assert in_child(child) == errno.EACCES


@pytest.mark.root
def test_profile_flags_reach_the_kernel(in_child, tmp_path):
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC"],
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
    flags = seccomp.profile_flags(seccomp.load_profile(profile))
    assert flags == seccomp.FILTER_FLAGS["SECCOMP_FILTER_FLAG_LOG"]
    bpf = seccomp.compile_profile(profile, [])

    def child():
        seccomp.install_filter(bpf, flags)
        try:
            os.mkdir(tmp_path / "x")
        except OSError as err:
            return err.errno
        return 0
    assert in_child(child) == errno.EPERM


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 300) | st.sampled_from(
        ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_CMP_EQ", "read", "CAP_SYS_ADMIN", "x", ""]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["defaultAction", "syscalls", "names", "name", "action", "args", "index", "value", "op",
                         "errnoRet", "includes", "excludes", "caps", "arches", "flags", "archMap"]),
        inner, max_size=4),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(profile=_json)
def test_any_json_is_a_profile_or_a_clear_error(profile):
    """Whatever a user writes, loading and compiling it gives a program or InvalidArgument - never a traceback."""
    try:
        loaded = seccomp.load_profile(profile if isinstance(profile, dict) else json.dumps(profile))
        if loaded is not None:
            assert len(seccomp.compile_profile(loaded, caps.DEFAULT_CAPABILITIES)) % 8 == 0
    except InvalidArgument:
        pass


_anything = st.none() | st.booleans() | st.integers(-3, 70000) | st.text(max_size=4) | st.sampled_from(
    ["read", "mkdir", "SCMP_ACT_ERRNO", "SCMP_ACT_ALLOW", "SCMP_CMP_EQ", "SCMP_CMP_MASKED_EQ", "CAP_SYS_ADMIN"])
_call = st.fixed_dictionaries({}, optional={
    "names": st.lists(st.sampled_from(["read", "mkdir", "getppid", "nosuchcall", ""]), max_size=3) | _anything,
    "name": _anything,
    "action": st.sampled_from(["SCMP_ACT_ERRNO", "SCMP_ACT_ALLOW", "SCMP_ACT_KILL", "SCMP_ACT_LOG"]) | _anything,
    "errnoRet": st.integers(-1, 70000) | _anything,
    "args": st.lists(st.fixed_dictionaries({}, optional={
        "index": st.integers(-1, 7) | _anything, "value": st.integers(0, 2**64 + 1) | _anything,
        "valueTwo": st.integers(0, 5) | _anything,
        "op": st.sampled_from(["SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_MASKED_EQ"]) | _anything}), max_size=3),
    "includes": st.fixed_dictionaries({}, optional={"caps": st.lists(_anything, max_size=2) | _anything,
                                                    "arches": st.lists(_anything, max_size=2),
                                                    "minKernel": st.sampled_from(["4.8", "x", "99.0"]) | _anything}),
    "excludes": st.fixed_dictionaries({}, optional={"caps": st.lists(_anything, max_size=2)}) | _anything,
})


@settings(max_examples=300, deadline=None)
@given(default=st.sampled_from(["SCMP_ACT_ERRNO", "SCMP_ACT_ALLOW"]) | _anything,
       default_errno=st.none() | st.integers(-1, 70000), calls=st.lists(_call, max_size=4))
def test_structured_profiles_compile_or_fail_clearly(default, default_errno, calls):
    profile = {"defaultAction": default, "syscalls": calls}
    if default_errno is not None:
        profile["defaultErrnoRet"] = default_errno
    try:
        loaded = seccomp.load_profile(profile)
        assert len(seccomp.compile_profile(loaded, caps.DEFAULT_CAPABILITIES)) % 8 == 0
    except InvalidArgument:
        pass
