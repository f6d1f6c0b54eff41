"""The start gate: the monitor spawns the init while the service makes the cgroup and runs ``before_run`` (the
daemon connects the network there); the process runs only after both, and a failing ``before_run`` calls the
start off without leaving anything behind."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.containers import ContainerService
from runtime.errors import InvalidArgument
from runtime.monitor import EXIT_RECORD
from runtime.spec import ContainerSpec
from tests.runtime.containers.helpers import cgroup_dirs, mounts_under, processes_mentioning, read_log

pytestmark = pytest.mark.root


def test_process_runs_only_after_before_run_and_inside_its_cgroup(svc: ContainerService, rootfs, cgroup_parent):
    cid = svc.create(None, ContainerSpec(args=("sh", "-c", "cat /etc/hosts; exec sleep 100"), rootfs=rootfs))
    seen: dict[str, object] = {}

    def before_run() -> None:
        # the cgroup exists by now, with nothing in it yet: the init waits at the gate
        mgr = svc.cgroup(cid)
        dirs = list(dict.fromkeys(mgr.paths().values()))
        seen["cgroup"] = all(d.is_dir() for d in dirs)
        seen["procs"] = [Path(d, "cgroup.procs").read_text() for d in dirs]
        svc.write_managed_file(cid, "hosts", "10.9.8.7\tgate-test\n")

    svc.start(cid, before_run=before_run)
    with open(f"/proc/{svc.inspect(cid).pid}/cgroup") as fh:
        assert cid in fh.read()  # the process runs in the container's cgroup (seen from the host)
    svc.kill(cid)
    svc.wait(cid, 30)
    out, err = read_log(svc, cid)
    assert seen["cgroup"] is True
    assert seen["procs"] and all(text == "" for text in seen["procs"])
    assert "gate-test" in out, (out, err)  # what before_run wrote was there when the process ran


def test_failing_before_run_calls_the_start_off_and_leaves_nothing(svc: ContainerService, rootfs, cgroup_parent,
                                                                    tmp_path):
    cid = svc.create(None, ContainerSpec(args=("true",), rootfs=rootfs))

    def before_run() -> None:
        raise InvalidArgument("port 8080 is already allocated")

    with pytest.raises(InvalidArgument, match="already allocated"):
        svc.start(cid, before_run=before_run)
    state = svc.inspect(cid)
    assert (state.status, state.exit_code, state.error) == ("created", 0, "")  # it never ran: no exit recorded
    assert not os.path.exists(os.path.join(state.state_dir, EXIT_RECORD))
    assert cgroup_dirs(cgroup_parent) == []
    assert mounts_under(str(tmp_path)) == []
    assert processes_mentioning(str(tmp_path)) == []
    svc.start(cid)  # and the container starts normally afterwards
    assert svc.wait(cid, 30) == 0
