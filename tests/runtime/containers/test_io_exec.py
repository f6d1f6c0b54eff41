"""Attach (stdin/stdout/stderr, tty) and exec into a running container."""
from __future__ import annotations

import socket
import time

import pytest

from runtime.containers import StartFailed
from runtime.exec import demux
from runtime.spec import ContainerSpec, ExecSpec

pytestmark = pytest.mark.root


def _recv_all(sock: socket.socket, timeout: float = 20.0) -> bytes:
    sock.settimeout(timeout)
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def test_attach_at_start_carries_stdin_and_demuxed_output(svc, rootfs):
    cid = svc.create(None, ContainerSpec(args=("sh", "-c", "cat; echo done >&2"), rootfs=rootfs,
                                         open_stdin=True, stdin_once=True))
    conn = svc.start(cid, attach={"stdin": True, "stdout": True, "stderr": True})
    try:
        conn.sendall(b"hello\nworld\n")
        conn.shutdown(socket.SHUT_WR)
        out, err = demux(_recv_all(conn))
    finally:
        conn.close()
    assert (out, err) == (b"hello\nworld\n", b"done\n")
    assert svc.wait(cid, 10) == 0


def test_tty_container_gets_a_pty_of_its_own(svc, rootfs):
    cid = svc.create(None, ContainerSpec(args=("sh", "-c", "tty; stty size; echo $TERM"), rootfs=rootfs, tty=True))
    conn = svc.start(cid, attach={"stdout": True}, console_size=(33, 101))
    try:
        raw = _recv_all(conn)
    finally:
        conn.close()
    assert svc.wait(cid, 10) == 0
    assert raw.replace(b"\r\n", b"\n").split(b"\n")[:3] == [b"/dev/pts/0", b"33 101", b"xterm"]


def test_exec_runs_in_the_containers_namespaces_env_and_cwd(svc, rootfs):
    cid = svc.create(None, ContainerSpec(args=("sleep", "100"), rootfs=rootfs, hostname="box", env=("A=1",),
                                         working_dir="/tmp"))
    svc.start(cid)
    code, out, err = svc.exec_run(cid, ["sh", "-c", "hostname; echo $A $B; pwd; ps -o pid,comm | sed -n 2p; "
                                        "echo oops >&2; exit 3"], env=("B=2",))
    assert code == 3
    assert out.decode().split("\n")[:4] == ["box", "1 2", "/tmp", "    1 sleep"]
    assert err == b"oops\n"
    code, out, _ = svc.exec_run(cid, ["id", "-u"], user="nobody", working_dir="/")
    assert (code, out) == (0, b"65534\n")
    # the exec is in the container's cgroup while it runs
    code, out, _ = svc.exec_run(cid, ["sh", "-c", "cat /proc/self/cgroup; echo ==; cat /proc/1/cgroup"])
    mine, init = out.decode().split("==\n")
    assert code == 0 and mine == init and ".." not in mine


def test_exec_stdin_and_missing_command(svc, rootfs):
    cid = svc.create(None, ContainerSpec(args=("sleep", "100"), rootfs=rootfs))
    svc.start(cid)
    proc = svc.exec(cid, ExecSpec(args=("sh", "-c", "read x; echo got-$x"), open_stdin=True))
    code, out, _ = proc.communicate(b"abc\n")
    assert (code, out) == (0, b"got-abc\n")
    with pytest.raises(StartFailed) as err:
        svc.exec(cid, ExecSpec(args=("nope",)))
    assert err.value.exit_code == 127


def test_exec_detached_then_wait(svc, rootfs):
    cid = svc.create(None, ContainerSpec(args=("sleep", "100"), rootfs=rootfs))
    svc.start(cid)
    proc = svc.exec(cid, ExecSpec(args=("sh", "-c", "exit 5")), attach=False)
    assert proc.wait(10) == 5
    t0 = time.monotonic()
    assert svc.stop(cid, timeout=0) == 137
    assert time.monotonic() - t0 < 10


def test_exec_start_times_come_from_the_monitor_not_from_proc(svc, rootfs, monkeypatch):
    """The exec's and its monitor's start times are the ones the monitor read where it made them: the engine does
    not read their /proc/<pid>/stat after the launch (it could wait on the monitor's exec and race its exit)."""
    from runtime import procs

    cid = svc.create(None, ContainerSpec(args=("sleep", "100"), rootfs=rootfs))
    svc.start(cid)
    real = procs.start_time
    read: list[int] = []
    monkeypatch.setattr(procs, "start_time", lambda pid: read.append(pid) or real(pid))
    proc = svc.exec(cid, ExecSpec(args=("cat",), open_stdin=True))
    monkeypatch.setattr(procs, "start_time", real)
    assert proc.monitor_pid not in read and proc.pid not in read
    assert proc.monitor_start == real(proc.monitor_pid) > 0  # both still run: cat waits for its stdin
    assert proc.pid_start == real(proc.pid) > 0
    assert proc.communicate(b"hi") == (0, b"hi", b"")


def test_top_lists_the_containers_processes(svc, rootfs):
    cid = svc.create(None, ContainerSpec(args=("sleep", "100"), rootfs=rootfs))
    svc.start(cid)
    procs = svc.top(cid)
    assert [p["cmd"] for p in procs] == ["sleep 100"]
    assert procs[0]["pid"] == svc.inspect(cid).pid


def test_attach_to_a_running_container_and_resize_its_tty(svc, rootfs):
    cid = svc.create(None, ContainerSpec(args=("sh", "-c", "read line; stty size; echo got-$line"), rootfs=rootfs,
                                         tty=True, open_stdin=True))
    svc.start(cid)
    svc.resize(cid, 40, 120)
    conn = svc.attach(cid, stdin=True)
    try:
        conn.sendall(b"hello\n")
        raw = _recv_all(conn)
    finally:
        conn.close()
    assert svc.wait(cid, 10) == 0
    lines = raw.replace(b"\r\n", b"\n").split(b"\n")
    assert b"40 120" in lines and b"got-hello" in lines


def test_attach_without_tty_gets_frames_per_stream(svc, rootfs):
    cid = svc.create(None, ContainerSpec(args=("sh", "-c", "read x; echo out-$x; echo err-$x >&2"), rootfs=rootfs,
                                         open_stdin=True))
    svc.start(cid)
    conn = svc.attach(cid, stdin=True, stderr=False)
    try:
        conn.sendall(b"1\n")
        out, err = demux(_recv_all(conn))
    finally:
        conn.close()
    assert (out, err) == (b"out-1\n", b"")
    assert svc.wait(cid, 10) == 0


def test_exec_with_a_tty_of_the_asked_size(svc, rootfs):
    cid = svc.create(None, ContainerSpec(args=("sleep", "100"), rootfs=rootfs))
    svc.start(cid)
    proc = svc.exec(cid, ExecSpec(args=("sh", "-c", "stty size; tty"), tty=True), console_size=(20, 70))
    code, out, _ = proc.communicate()
    assert code == 0
    assert out.replace(b"\r\n", b"\n").split(b"\n")[:2] == [b"20 70", b"/dev/pts/0"]
