"""The start gate: the monitor spawns the init while the service makes the cgroup and runs ``before_run`` (the
daemon connects the network there); the process runs only after both, and a failing ``before_run`` calls the
start off without leaving anything behind."""
from __future__ import annotations

import json
import os
import time

import pytest

from runtime.containers import ContainerService
from runtime.errors import InvalidArgument
from runtime.monitor import EXIT_RECORD
from runtime.spec import ContainerSpec
from tests.runtime.containers.helpers import cgroup_dirs, mounts_under, processes_mentioning, read_log
from tests.support.polling import wait_for
from tests.support.procfs import children

pytestmark = pytest.mark.root


def test_process_runs_only_after_before_run_and_inside_its_cgroup(svc: ContainerService, rootfs, cgroup_parent):
    cid = svc.create(None, ContainerSpec(args=("sh", "-c", "cat /etc/hosts; exec sleep 100"), rootfs=rootfs))
    seen: dict[str, object] = {}

    def before_run() -> None:
        # the cgroup exists by now (the init may be moving in); the program waits at the gate
        mgr = svc.cgroup(cid)
        seen["cgroup"] = all(d.is_dir() for d in dict.fromkeys(mgr.paths().values()))
        svc.write_managed_file(cid, "hosts", "10.9.8.7\tgate-test\n")

    svc.start(cid, before_run=before_run)
    with open(f"/proc/{svc.inspect(cid).pid}/cgroup") as fh:
        assert cid in fh.read()  # the process runs in the container's cgroup (seen from the host)
    deadline = time.monotonic() + 30
    out, err = "", ""
    while "gate-test" not in out and time.monotonic() < deadline:  # polling the log with a deadline
        time.sleep(0.01)
        out, err = read_log(svc, cid) if os.path.exists(svc.log_path(cid)) else ("", "")
    svc.kill(cid)
    svc.wait(cid, 30)
    assert seen["cgroup"] is True
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


def _gone(pids: list[int], timeout: float = 30) -> bool:
    """Every one of ``pids`` exited (a zombie counts as gone) within ``timeout``."""
    try:
        return wait_for(lambda: not any(os.path.exists(f"/proc/{p}") and "Z" not in _state(p) for p in pids),
                        timeout, "the processes to exit", interval=0.01)
    except AssertionError:
        return False


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def _sleeper(svc: ContainerService, rootfs) -> str:
    """A started ``sleep 100`` container's id."""
    cid = svc.create(None, ContainerSpec(args=("sleep", "100"), rootfs=rootfs))
    svc.start(cid)
    return cid


def _state_json(svc: ContainerService, cid: str) -> dict:
    return json.loads((svc.dir / cid / "state.json").read_text())


def _first_start(svc: ContainerService, rootfs) -> tuple[int, int]:
    """Start a first container; (the fork server's pid, that container's monitor pid): the spare forked after it
    is the fork server's other child."""
    first = _sleeper(svc, rootfs)
    server = svc._forkserver._proc.pid  # noqa: SLF001 - the test looks at the fork server's children
    return server, _state_json(svc, first)["monitor_pid"]


def test_a_start_takes_the_spare_monitor_and_close_removes_the_spare(tmp_path, rootfs, cgroup_parent):
    svc = ContainerService(tmp_path / "root", cgroup_parent=cgroup_parent)
    try:
        server, monitor1 = _first_start(svc, rootfs)
        # the spare is forked just after the first start, and it forks the next container's init ahead
        spares = wait_for(lambda: [p for p in children(server) if p != monitor1], 30, "the spare monitor")
        assert len(spares) == 1
        spare = spares[0]
        waiting = wait_for(lambda: children(spare), 30, "the spare's waiting child")
        assert len(waiting) == 1
        st = _state_json(svc, _sleeper(svc, rootfs))
        assert st["monitor_pid"] == spare  # the spare became the second container's monitor
        assert st["pid"] == waiting[0]  # and its waiting child the container's process
        with open(f"/proc/{st['pid']}/status") as fh:
            assert any(line.startswith("NSpid:") and line.split()[-1] == "1" for line in fh)  # PID 1 in its ns
        for state in svc.list():  # the first and the second
            svc.remove(state.id, force=True)
        leftovers = children(server)
        leftovers += [c for p in leftovers for c in children(p)]
    finally:
        for state in svc.list():
            svc.remove(state.id, force=True)
        svc.close()
    assert leftovers and _gone(leftovers), "the spare monitor (or its waiting child) outlived the service"
    assert processes_mentioning(str(tmp_path)) == []


def test_a_start_after_the_spare_died_forks_anew_and_gets_a_new_spare(tmp_path, rootfs, cgroup_parent):
    import signal

    svc = ContainerService(tmp_path / "root", cgroup_parent=cgroup_parent)
    try:
        server, monitor1 = _first_start(svc, rootfs)

        def spares() -> list[int]:
            return [p for p in children(server) if p != monitor1 and _state(p) != "Z"]

        (spare,) = wait_for(spares, 30, "the spare monitor")
        os.kill(spare, signal.SIGKILL)
        assert _gone([spare])
        second = _sleeper(svc, rootfs)
        monitor2 = _state_json(svc, second)["monitor_pid"]
        assert monitor2 != spare and svc.inspect(second).status == "running"
        wait_for(lambda: [p for p in spares() if p != monitor2], 30, "a new spare after the lost one")
    finally:
        for state in svc.list():
            svc.remove(state.id, force=True)
        svc.close()


def test_a_spare_served_start_records_true_start_times(tmp_path, rootfs, cgroup_parent):
    """A spare monitor reads its own and its waiting child's start times while it waits; the launch reply carries
    them, and state.json holds exactly what /proc says."""
    from runtime import procs

    svc = ContainerService(tmp_path / "root", cgroup_parent=cgroup_parent)
    try:
        server, monitor1 = _first_start(svc, rootfs)
        spare = wait_for(lambda: [p for p in children(server) if p != monitor1], 30, "the spare monitor")[0]
        wait_for(lambda: children(spare), 30, "the spare's waiting child")
        st = _state_json(svc, _sleeper(svc, rootfs))
        assert st["monitor_pid"] == spare
        assert st["pid_start"] == procs.start_time(st["pid"]) > 0
        assert st["monitor_start"] == procs.start_time(st["monitor_pid"]) > 0
    finally:
        for state in svc.list():
            svc.remove(state.id, force=True)
        svc.close()
    assert processes_mentioning(str(tmp_path)) == []
