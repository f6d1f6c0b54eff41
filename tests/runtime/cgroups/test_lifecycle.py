"""Both managers on the real kernel: create, add, freeze/thaw, pids, kill, stats, destroy."""
from __future__ import annotations

import select
import signal
import subprocess

import pytest

from runtime.cgroups.base import Resources
from runtime.errors import InvalidArgument

pytestmark = pytest.mark.root

ECHO = "import sys\nfor line in sys.stdin:\n    sys.stdout.write(line)\n    sys.stdout.flush()\n"


def _readable(fd, timeout: float) -> bool:
    return bool(select.select([fd], [], [], timeout)[0])


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("State:"):
                return line.split()[1]
    return "?"


def test_create_makes_dirs_and_destroy_removes_them(manager):
    dirs = list(manager.paths().values())
    assert dirs and all(d.is_dir() for d in dirs)
    assert manager.exists()
    manager.destroy()
    assert not any(d.exists() for d in dirs)
    assert not manager.exists()
    manager.destroy()  # idempotent


def test_add_moves_the_process_and_pids_lists_it(manager, park):
    p = park(ECHO)
    manager.add(p.pid)
    assert manager.pids() == [p.pid]
    with open(f"/proc/{p.pid}/cgroup") as fh:
        assert manager.relpath in fh.read()
    assert manager.stats()["pids_stats"]["current"] == 1


def test_freeze_stops_the_process_and_thaw_resumes_it(manager, park):
    p = park(ECHO)
    manager.add(p.pid)
    p.go()  # consumed by the parked readline
    manager.freeze()
    assert manager.frozen()
    if manager.version == 1:
        assert _state(p.pid) == "D"  # v1 freezer: tasks sit in uninterruptible sleep
    p.proc.stdin.write("ping\n")
    p.proc.stdin.flush()
    assert not _readable(p.proc.stdout, 0.3), "a frozen process answered"
    manager.thaw()
    assert not manager.frozen()
    assert _readable(p.proc.stdout, 10)
    assert p.proc.stdout.readline() == "ping\n"


def test_kill_all_kills_every_process(manager, park):
    procs = [park(ECHO) for _ in range(3)]
    for p in procs:
        manager.add(p.pid)
    assert manager.pids() == sorted(p.pid for p in procs)
    manager.kill_all(signal.SIGKILL)
    for p in procs:
        assert p.proc.wait(timeout=10) == -signal.SIGKILL
    manager.destroy()
    assert not manager.exists()


def test_kill_all_with_another_signal(manager, park):
    p = park(ECHO)
    manager.add(p.pid)
    manager.kill_all(signal.SIGTERM)
    assert p.proc.wait(timeout=10) == -signal.SIGTERM


def test_destroy_waits_for_a_dying_process(manager):
    proc = subprocess.Popen(["/bin/busybox", "sleep", "1000"])
    try:
        manager.add(proc.pid)
        manager.kill_all()
        manager.destroy(timeout=10)  # the process may still be exiting: destroy waits, does not fail
        assert not manager.exists()
    finally:
        proc.kill()
        proc.wait()


def test_destroy_refuses_while_processes_remain(manager, park):
    p = park(ECHO)
    manager.add(p.pid)
    with pytest.raises(Exception, match="timed out"):
        manager.destroy(timeout=0.2)
    assert manager.exists()


def test_a_busy_cgroup_that_cannot_go_names_who_is_in_it(manager, park):
    """The error says which process keeps it (a CI teardown once failed with no more than "still busy")."""
    from runtime.cgroups.fs import remove_tree
    from runtime.errors import InvalidState

    p = park(ECHO)
    manager.add(p.pid)
    some = next(iter(dict.fromkeys(manager.paths().values())))
    with pytest.raises(InvalidState, match=rf"still busy \(processes: {p.pid} \(python[^)]*\) S\)"):
        remove_tree(some, 0.1)
    assert manager.exists()


def test_nested_cgroups_are_listed_and_removed(manager, park):
    p = park(ECHO)
    for d in dict.fromkeys(manager.paths().values()):
        (d / "inner").mkdir()
        for fname in ("cpuset.cpus", "cpuset.mems"):  # a fresh v1 cpuset is empty: no task could join
            if (d / fname).exists():
                (d / "inner" / fname).write_text((d / fname).read_text())
        with open(d / "inner" / "cgroup.procs", "w") as fh:
            fh.write(str(p.pid))
    assert manager.pids() == [p.pid]
    manager.kill_all()
    p.proc.wait(timeout=10)
    manager.destroy()
    assert not any(d.exists() for d in manager.paths().values())


def test_stats_cpu_usage_grows(manager, park):
    p = park("x = 0\nfor i in range(3_000_000):\n    x += i\nprint(x, flush=True)\n")
    manager.add(p.pid)
    p.go()
    rc, _ = p.wait()
    assert rc == 0
    stats = manager.stats()
    assert stats["cpu_stats"]["cpu_usage"]["total_usage"] > 10_000_000  # > 10 ms of CPU, in ns
    assert stats["cpu_stats"]["online_cpus"] >= 1
    # docker stats' CPU %: container delta over host delta, both in ns
    assert stats["cpu_stats"]["system_cpu_usage"] > stats["cpu_stats"]["cpu_usage"]["total_usage"]


def test_add_unknown_pid_is_not_found(manager):
    from runtime.errors import NotFound
    with pytest.raises((NotFound, InvalidArgument)):
        manager.add(2**22 + 12345)


def test_apply_nothing_is_a_no_op(manager):
    assert manager.apply(Resources()) == []


def test_oom_watch_needs_the_memory_controller(manager):
    if manager.version == 1 or "memory" in manager.available_controllers():
        w = manager.oom_watch()
        w.close()
    else:
        from runtime.errors import Unsupported
        with pytest.raises(Unsupported, match="memory controller"):
            manager.oom_watch()


def test_no_leftover_pids_after_test_process_exit(manager, park):
    p = park("pass\n")
    manager.add(p.pid)
    p.go()
    assert p.wait()[0] == 0
    assert manager.pids() == []


def test_repeated_cycles_leave_nothing(manager, cg_parent):
    """create / apply / add / kill / destroy, many times: no directory and no process is left behind."""
    from runtime.cgroups.v1 import V1Manager
    from runtime.cgroups.v2 import V2Manager

    manager.destroy()
    procs = []
    try:
        for i in range(30):
            if manager.version == 1:
                mgr = V1Manager(f"cycle{i}", cg_parent)
            else:
                mgr = V2Manager(f"cycle{i}", cg_parent, root=manager.root)
            mgr.create()
            mgr.apply(Resources(pids_limit=16) if manager.version == 1 else Resources())
            proc = subprocess.Popen(["/bin/busybox", "sleep", "1000"])
            procs.append(proc)
            mgr.add(proc.pid)
            mgr.kill_all()
            assert proc.wait(timeout=10) == -signal.SIGKILL
            mgr.destroy()
            assert not any(p.exists() for p in mgr.paths().values())
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for path in manager.paths().values():
        assert not [p for p in path.parent.iterdir() if p.is_dir()], "a cgroup was left under the test parent"


def test_kill_all_catches_a_process_that_keeps_forking(manager, park):
    """Children forked while kill_all runs must not escape: SIGKILL is atomic (cgroup.kill, or freeze first)."""
    spinner = """
import os, signal
print("ready", flush=True)
for depth in range(300):  # a chain that keeps growing: each new process forks the next one, then waits
    try:
        pid = os.fork()
    except OSError:
        break
    if pid:
        os.waitpid(pid, 0)
        os._exit(0)
signal.pause()
"""
    if manager.version == 1:
        manager.apply(Resources(pids_limit=64))
    p = park(spinner)
    manager.add(p.pid)
    p.go()
    assert p.proc.stdout.readline() == "ready\n"
    manager.kill_all()
    assert p.proc.wait(timeout=10) == -signal.SIGKILL
    manager.destroy(timeout=10)
    assert not manager.exists()
