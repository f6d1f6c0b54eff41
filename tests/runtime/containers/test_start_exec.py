"""A start is answered once the container's init passed its last checks and only its ``execve`` is left (as
runc's start, which does not wait for the exec): a command that is missing or that the container's user may not
execute still fails the start (127 / 126), and an ``execve`` that fails after the answer ends as the container's
exit, with its code and error recorded and nothing left behind."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.containers import ContainerService, StartFailed
from runtime.spec import ContainerSpec
from tests.runtime.containers.helpers import cgroup_dirs, mounts_under, processes_mentioning

pytestmark = pytest.mark.root


@pytest.fixture
def layers(rootfs: tuple[str, ...], tmp_path: Path) -> tuple[str, ...]:
    """The busybox rootfs plus a layer with /bad: files that pass every check but fail in execve, and a file
    only its owner (root) may execute (or a user with CAP_DAC_OVERRIDE)."""
    layer = tmp_path / "layer"
    bad = layer / "bad"
    bad.mkdir(parents=True)
    (bad / "noformat").write_bytes(b"\x00\x01\x02 not a program and no #! line\n")
    (bad / "nointerp").write_text("#!/no/such/interpreter\necho never\n")
    (bad / "owneronly").write_text("#!/bin/sh\necho ran\n")
    for name, mode in (("noformat", 0o755), ("nointerp", 0o755), ("owneronly", 0o744)):
        os.chmod(bad / name, mode)
    return (*rootfs, str(layer))


@pytest.mark.parametrize("command, code, error", [
    ("/bad/noformat", 126, 'exec: "/bad/noformat": exec format error'),
    ("/bad/nointerp", 127, 'exec: "/bad/nointerp": no such file or directory'),
])
def test_execve_failure_after_the_answer_is_the_containers_exit(svc: ContainerService, layers, cgroup_parent,
                                                                tmp_path, command, code, error):
    cid = svc.create(None, ContainerSpec(args=(command,), rootfs=layers))
    svc.start(cid)  # answered: every check before the exec passed
    assert svc.wait(cid, 10) == code
    state = svc.inspect(cid)
    assert (state.status, state.exit_code, state.error, state.pid) == ("exited", code, error, 0)
    assert state.finished_at >= state.started_at
    assert cgroup_dirs(cgroup_parent) == []  # its monitor removed the cgroup with the exit
    assert processes_mentioning(str(tmp_path / "root")) == []  # the monitor is gone too
    svc.start(cid)  # and it can be started again, failing the same way
    assert svc.wait(cid, 10) == code
    svc.remove(cid)
    assert mounts_under(str(tmp_path)) == []


def test_what_the_user_may_not_execute_still_fails_the_start(svc: ContainerService, layers, cgroup_parent):
    for args, user, drop in ((("/bad/owneronly",), "nobody", ("ALL",)), (("/bad",), "", ()),
                             (("/etc/passwd",), "", ())):
        cid = svc.create(None, ContainerSpec(args=args, rootfs=layers, user=user, cap_drop=drop))
        with pytest.raises(StartFailed) as err:
            svc.start(cid)
        assert (err.value.exit_code, str(err.value)) == (126, f'exec: "{args[0]}": permission denied')
        state = svc.inspect(cid)
        assert (state.status, state.exit_code) == ("created", 126)
        assert cgroup_dirs(cgroup_parent) == []
    # the owner may: the check is made with the program's own user and capabilities
    cid = svc.create(None, ContainerSpec(args=("/bad/owneronly",), rootfs=layers))
    svc.start(cid)
    assert svc.wait(cid, 10) == 0


def test_what_acts_on_its_processes_right_after_the_start_finds_the_program(svc: ContainerService, rootfs):
    """``top``, ``exec`` and signals wait (``monitor_client.settled``) until the execve the start did not wait for
    is done: never the runtime's own init in its place."""
    for _ in range(3):
        cid = svc.create(None, ContainerSpec(args=("sleep", "100"), rootfs=rootfs))
        svc.start(cid)
        assert [p["cmd"] for p in svc.top(cid)] == ["sleep 100"]
        svc.remove(cid, force=True)
        cid = svc.create(None, ContainerSpec(args=("sleep", "100"), rootfs=rootfs))
        svc.start(cid)
        assert svc.exec_run(cid, ["cat", "/proc/1/comm"])[:2] == (0, b"sleep\n")
        svc.remove(cid, force=True)
        cid = svc.create(None, ContainerSpec(args=("sleep", "100"), rootfs=rootfs))
        svc.start(cid)
        svc.kill(cid, "SIGKILL")
        assert svc.wait(cid, 10) == 137 and svc.inspect(cid).error == ""  # it ran, then was killed
        svc.remove(cid)
