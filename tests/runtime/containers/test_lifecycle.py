"""Create, start, stop, kill, wait, restart, pause, remove; failures leave nothing behind; a new service adopts
running containers."""
from __future__ import annotations

import json
import os
import time

import pytest

from runtime.containers import ContainerService, StartFailed
from runtime.errors import Conflict, InvalidArgument, InvalidState, NotFound
from runtime.spec import ContainerSpec, ExecSpec, LogConfig
from tests.runtime.containers.helpers import cgroup_dirs, mounts_under, processes_mentioning, read_log, run
from tests.support.polling import wait_for

pytestmark = pytest.mark.root


def _spec(rootfs, *args, **kw):
    return ContainerSpec(args=args, rootfs=rootfs, **kw)


def test_ids_names_and_lookup(svc, rootfs):
    cid = svc.create("web", _spec(rootfs, "true"))
    assert len(cid) == 64 and all(c in "0123456789abcdef" for c in cid)
    assert svc.resolve("web") == svc.resolve("/web") == svc.resolve(cid[:10]) == cid
    with pytest.raises(Conflict, match='"/web" is already in use'):
        svc.create("web", _spec(rootfs, "true"))
    with pytest.raises(InvalidArgument):
        svc.create("bad name!", _spec(rootfs, "true"))
    with pytest.raises(NotFound):
        svc.resolve("nope")
    with pytest.raises(InvalidArgument, match="CAP_NOPE|NOPE"):
        svc.create(None, _spec(rootfs, "true", cap_add=("NOPE",)))
    with pytest.raises(InvalidArgument, match="no command"):
        svc.create(None, _spec(rootfs))
    state = svc.inspect("web")
    assert (state.status, state.name, state.exit_code) == ("created", "web", 0)
    svc.rename("web", "web2")
    assert svc.resolve("web2") == cid
    with pytest.raises(NotFound):
        svc.resolve("web")


def test_missing_command_is_127_with_dockers_message_and_leaves_nothing(svc, rootfs, cgroup_parent, tmp_path):
    cid = svc.create(None, _spec(rootfs, "nosuchcmd"))
    with pytest.raises(StartFailed) as err:
        svc.start(cid)
    assert err.value.exit_code == 127
    assert str(err.value) == 'exec: "nosuchcmd": executable file not found in $PATH'
    state = svc.inspect(cid)
    assert (state.status, state.exit_code) == ("created", 127)
    assert "executable file not found" in state.error
    assert cgroup_dirs(cgroup_parent) == []
    assert mounts_under(str(tmp_path)) == []
    assert processes_mentioning(str(tmp_path)) == []


def test_not_executable_is_126(svc, rootfs):
    cid = svc.create(None, _spec(rootfs, "/etc/passwd"))
    with pytest.raises(StartFailed) as err:
        svc.start(cid)
    assert err.value.exit_code == 126
    assert "permission denied" in str(err.value)


def test_exit_codes_and_signals(svc, rootfs):
    assert run(svc, rootfs, "sh", "-c", "exit 7")[0] == 7
    cid = svc.create(None, _spec(rootfs, "sleep", "100"))
    svc.start(cid)
    assert svc.inspect(cid).status == "running"
    with pytest.raises(InvalidState):
        svc.start(cid)
    svc.kill(cid, "SIGKILL")
    assert svc.wait(cid, 10) == 137
    state = svc.inspect(cid)
    assert (state.status, state.exit_code, state.pid) == ("exited", 137, 0)
    assert state.finished_at > state.started_at
    with pytest.raises(InvalidState):
        svc.kill(cid, "SIGTERM")


def test_handled_signal_gives_its_exit(svc, rootfs):
    cid = svc.create(None, _spec(rootfs, "sh", "-c", "trap 'exit 42' USR1; echo ready; while :; do sleep 1; done"))
    svc.start(cid)
    _wait_for_log(svc, cid, "ready")
    svc.kill(cid, "USR1")
    assert svc.wait(cid, 10) == 42


def test_stop_of_a_process_ignoring_sigterm_is_137_after_the_timeout(svc, rootfs):
    cid = svc.create(None, _spec(rootfs, "sleep", "100", stop_timeout=1))
    svc.start(cid)
    t0 = time.monotonic()
    assert svc.stop(cid) == 137
    assert time.monotonic() - t0 >= 1.0
    assert svc.inspect(cid).status == "exited"


def test_stop_with_init_forwards_sigterm(svc, rootfs):
    cid = svc.create(None, _spec(rootfs, "sleep", "100", init=True, stop_timeout=20))
    svc.start(cid)
    t0 = time.monotonic()
    assert svc.stop(cid) == 143  # the reaper forwarded SIGTERM to sleep (pid 2): 128 + 15
    assert time.monotonic() - t0 < 10


def test_init_reaps_zombies(svc, rootfs):
    script = ("(sleep 0 &); i=0; while [ $i -lt 500 ]; do "
              "ps -o stat | grep -q '^Z' || { echo clean; ps -o pid,comm | sed -n 2p; exit 0; }; i=$((i+1)); done; "
              "echo zombie")
    code, out, _ = run(svc, rootfs, "sh", "-c", script, init=True)
    assert code == 0
    assert out.split()[0] == "clean"
    assert out.split()[1] == "1"  # pid 1 is the reaper, not the shell


def test_restart_keeps_the_container_layer(svc, rootfs):
    cid = svc.create(None, _spec(rootfs, "sh", "-c", "cat /kept 2>/dev/null || echo first; echo again > /kept"))
    for _ in range(2):
        svc.start(cid)
        assert svc.wait(cid, 30) == 0
    assert read_log(svc, cid)[0] == "first\nagain\n"


def test_remove_running_needs_force(svc, rootfs, cgroup_parent, tmp_path):
    cid = svc.create(None, _spec(rootfs, "sleep", "100"))
    svc.start(cid)
    with pytest.raises(Conflict):
        svc.remove(cid)
    svc.remove(cid, force=True)
    with pytest.raises(NotFound):
        svc.inspect(cid)
    assert cgroup_dirs(cgroup_parent) == []
    assert processes_mentioning(str(tmp_path)) == []


def test_pause_and_unpause_freeze_the_processes(svc, rootfs):
    cid = svc.create(None, _spec(rootfs, "sh", "-c", "while :; do echo tick; sleep 0.05; done"))
    svc.start(cid)
    _wait_for_log(svc, cid, "tick")
    svc.pause(cid)
    assert svc.inspect(cid).status == "paused"
    pid = svc.inspect(cid).pid
    with open(f"/proc/{pid}/status") as fh:
        assert any(line.startswith("State:") for line in fh)
    assert svc.cgroup(cid).frozen()
    size = os.path.getsize(svc.log_path(cid))
    with pytest.raises(Conflict, match="paused"):
        svc.exec(cid, ExecSpec(args=("true",)))
    svc.unpause(cid)
    assert svc.inspect(cid).status == "running"
    _wait_until(lambda: os.path.getsize(svc.log_path(cid)) > size, "output after unpause")
    assert svc.stop(cid, timeout=5) in (143, 137)


def test_a_new_service_adopts_running_containers(svc, rootfs, tmp_path, cgroup_parent):
    cid = svc.create("adopted", _spec(rootfs, "sleep", "100"))
    svc.start(cid)
    svc.close()  # the fork server goes away; the monitor and the container stay
    again = ContainerService(tmp_path / "root", cgroup_parent=cgroup_parent)
    try:
        state = again.inspect("adopted")
        assert state.status == "running" and state.pid > 0
        again.kill("adopted", "KILL")
        assert again.wait("adopted", 10) == 137
        again.remove("adopted")
    finally:
        again.close()


def test_json_file_log_format_and_rotation(svc, rootfs):
    code, out, err = run(svc, rootfs, "sh", "-c", "echo out; echo err >&2; printf partial")
    assert (code, out, err) == (0, "out\npartial", "err\n")
    cid = svc.create(None, _spec(rootfs, "sh", "-c", "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done",
                                 log=LogConfig(max_size=4096, max_file=3)))
    svc.start(cid)
    assert svc.wait(cid, 30) == 0
    path = str(svc.log_path(cid))
    assert os.path.exists(path + ".1") and os.path.exists(path + ".2") and not os.path.exists(path + ".3")
    for p in (path, path + ".1", path + ".2"):
        assert os.path.getsize(p) <= 4096
    with open(path) as fh:
        last = [json.loads(line) for line in fh][-1]
    assert last["log"] == "line-299\n" and last["stream"] == "stdout"
    assert last["time"].endswith("Z") and "T" in last["time"]
    assert list(last) == ["log", "stream", "time"]


def test_failed_start_of_a_bad_mount_cleans_up(svc, rootfs, cgroup_parent, tmp_path):
    from runtime.spec import Mount

    cid = svc.create(None, _spec(rootfs, "true", mounts=(Mount("bind", "/x", str(tmp_path / "missing")),)))
    with pytest.raises(StartFailed, match="does not exist"):
        svc.start(cid)
    assert cgroup_dirs(cgroup_parent) == []
    assert mounts_under(str(tmp_path)) == []
    assert processes_mentioning(str(tmp_path)) == []


def _wait_until(cond, what, timeout=10.0):
    wait_for(cond, timeout, what, interval=0.01)


def _wait_for_log(svc, cid, text):
    _wait_until(lambda: os.path.exists(svc.log_path(cid)) and text in read_log(svc, cid)[0], f"{text!r} in log")


@pytest.fixture
def netns_file(tmp_path):
    """A network namespace of the test's own, pinned by a bind mount on a file under tmp_path."""
    from runtime import linux

    path = tmp_path / "netns"
    path.touch()
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            linux.unshare(linux.CLONE_NEWNET)
            os.write(ready_w, b"x")
            os.read(go_r, 1)
        finally:
            os._exit(0)
    try:
        assert os.read(ready_r, 1) == b"x"
        linux.mount(f"/proc/{pid}/ns/net", str(path), None, linux.MS_BIND)
    finally:
        os.write(go_w, b"x")
        os.waitpid(pid, 0)
        for fd in (ready_r, ready_w, go_r, go_w):
            os.close(fd)
    try:
        yield path
    finally:
        linux.umount(str(path), linux.MNT_DETACH)


def test_joins_a_given_network_namespace(svc, rootfs, netns_file):
    code, out, _ = run(svc, rootfs, "readlink", "/proc/self/ns/net", netns_path=str(netns_file))
    assert code == 0
    assert out.strip() == f"net:[{os.stat(netns_file).st_ino}]"


def test_monitor_is_the_small_helper_when_a_compiler_exists(tmp_path, rootfs, cgroup_parent, monkeypatch):
    import shutil

    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler: the Python monitor loop is used")
    monkeypatch.delenv("PYCOMPOSE_PYTHON_MONITOR", raising=False)
    svc = ContainerService(tmp_path / "c", cgroup_parent=cgroup_parent)
    try:
        cid = svc.create(None, _spec(rootfs, "sleep", "100"))
        svc.start(cid)
        st = json.loads((svc.dir / cid / "state.json").read_text())
        # the launch reply goes out just before the monitor execs the helper: poll for the exec, with a deadline
        deadline = time.monotonic() + 10
        while not os.path.basename(os.readlink(f"/proc/{st['monitor_pid']}/exe")).startswith("pycompose-monitor-"):
            assert time.monotonic() < deadline, "the monitor never became the C helper"
            time.sleep(0.005)
        assert os.getsid(st["monitor_pid"]) == st["monitor_pid"]  # its own session: not tied to the engine
        svc.remove(cid, force=True)
        cid = svc.create(None, _spec(rootfs, "sleep", "100", init=True))
        svc.start(cid)
        # the start is answered when only the init's execve is left (as runc's start): poll, with a deadline
        pid, deadline = svc.inspect(cid).pid, time.monotonic() + 10
        while not _comm(pid).startswith("pycompose-init"):  # the static C reaper, not a copy of Python
            assert _comm(pid).startswith("python") and time.monotonic() < deadline, _comm(pid)
            time.sleep(0.005)
        svc.remove(cid, force=True)
    finally:
        for state in svc.list():
            svc.remove(state.id, force=True)
        svc.close()


def _comm(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as fh:
        return fh.read()


def test_python_monitor_fallback(tmp_path, rootfs, cgroup_parent, monkeypatch):
    monkeypatch.setenv("PYCOMPOSE_PYTHON_MONITOR", "1")
    service = ContainerService(tmp_path / "py", cgroup_parent=cgroup_parent)
    try:
        code, out, err = run(service, rootfs, "sh", "-c", "echo out; echo err >&2; exit 3")
        assert (code, out, err) == (3, "out\n", "err\n")
        cid = service.create(None, _spec(rootfs, "sleep", "100", stop_timeout=0))
        service.start(cid)
        st = json.loads((service.dir / cid / "state.json").read_text())
        assert "python" in os.path.basename(os.readlink(f"/proc/{st['monitor_pid']}/exe"))
        assert service.stop(cid) == 137
        service.remove(cid)
    finally:
        for state in service.list():
            service.remove(state.id, force=True)
        service.close()


def test_containers_outlive_a_killed_fork_server_and_a_new_one_is_started(svc, rootfs):
    import signal as _signal

    cid = svc.create(None, _spec(rootfs, "sleep", "100"))
    svc.start(cid)
    server = svc._forkserver._proc  # noqa: SLF001 - the test kills the engine-side helper on purpose
    server.send_signal(_signal.SIGKILL)
    server.wait()
    assert svc.inspect(cid).status == "running"
    assert run(svc, rootfs, "echo", "again") == (0, "again\n", "")  # a fresh fork server
    svc.kill(cid, "KILL")
    assert svc.wait(cid, 10) == 137


def test_c_and_python_monitors_write_the_same_log(tmp_path, rootfs, cgroup_parent, monkeypatch):
    import re
    import shutil

    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler: only the Python monitor exists")
    script = ("printf 'a<b>&c\\t\"q\"\\\\\\n\\001x\\377\\n'; head -c 20000 /dev/zero | tr '\\0' y; echo; "
              "printf 'caf\\303\\251 \\342\\202\\254\\n' >&2; printf 'no newline'")
    logs = []
    for python in ("0", "1"):
        monkeypatch.setenv("PYCOMPOSE_PYTHON_MONITOR", python)
        service = ContainerService(tmp_path / f"m{python}", cgroup_parent=cgroup_parent)
        try:
            cid = service.create(None, _spec(rootfs, "sh", "-c", script))
            service.start(cid)
            assert service.wait(cid, 30) == 0
            with open(service.log_path(cid), encoding="utf-8") as fh:
                lines = [re.sub(r'"time":"[^"]+"', '"time":""', line) for line in fh]
            # the order between the two streams depends on which pipe is read first; within a stream it is fixed
            logs.append(sorted(lines, key=lambda line: '"stream":"stderr"' in line))
        finally:
            service.close()
    assert logs[0] == logs[1]
    assert len(logs[0]) == 6  # 2 lines, the 20000 bytes as a 16 KiB partial plus the rest, stderr, no newline


def test_running_containers_hold_none_of_the_engines_stdio(tmp_path, rootfs, cgroup_parent):
    """A monitor outlives the engine: it must not keep the engine's terminal or output pipe open."""
    import subprocess
    import sys

    code = f"""
import sys
sys.path.insert(0, {os.getcwd()!r})
from runtime.containers import ContainerService
from runtime.spec import ContainerSpec
svc = ContainerService({str(tmp_path / 'r')!r}, cgroup_parent={cgroup_parent!r})
cid = svc.create('held', ContainerSpec(args=('sleep', '100'), rootfs={rootfs!r}))
svc.start(cid)
print('started', flush=True)
"""
    svc = ContainerService(tmp_path / "r", cgroup_parent=cgroup_parent)
    try:
        # communicate() returns only at EOF on both pipes: a monitor holding them would hang this
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert out.stdout == "started\n", out.stderr
        assert svc.inspect("held").status == "running"
    finally:
        for state in svc.list():
            svc.remove(state.id, force=True)
        svc.close()


def test_parallel_lifecycles_from_many_threads(svc, rootfs):
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> tuple[int, str]:
        cid = svc.create(f"par{i}", _spec(rootfs, "sh", "-c", f"echo {i}; exit {i % 5}"))
        svc.start(cid)
        code = svc.wait(cid, 60)
        out = read_log(svc, cid)[0]
        svc.remove(cid)
        return code, out

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(24)))
    assert results == [(i % 5, f"{i}\n") for i in range(24)]
    assert svc.list() == []


def test_init_stops_promptly_right_after_start_and_leaves_no_signal_blocked(svc, rootfs):
    for _ in range(5):  # SIGTERM sent at once must not be lost before the reaper is ready
        cid = svc.create(None, _spec(rootfs, "sleep", "100", init=True, stop_timeout=30))
        svc.start(cid)
        t0 = time.monotonic()
        assert svc.stop(cid) == 143
        assert time.monotonic() - t0 < 10
        svc.remove(cid)
    code, out, _ = run(svc, rootfs, "grep", "SigBlk", "/proc/self/status", init=True)
    assert out.split() == ["SigBlk:", "0000000000000000"]
