"""The unmodified docker CLI against our engine: run --rm, run -d, ps, logs -f, exec, inspect, stop, rm, events."""
from __future__ import annotations

import json
import os
import pty
import subprocess
import time

import pytest

pytestmark = pytest.mark.root


def test_run_rm_prints_and_removes(engine):
    out = engine.cli("run", "--rm", "busybox", "echo", "hi")
    assert out.stdout == "hi\n"
    assert engine.cli("ps", "-aq").stdout == ""
    failed = engine.cli("run", "--rm", "busybox", "sh", "-c", "echo oops >&2; exit 7", check=False)
    assert failed.returncode == 7 and failed.stderr.endswith("oops\n")


def test_run_detached_ps_logs_inspect_stop_rm(engine):
    cid = engine.cli("run", "-d", "--name", "ticker", "--label", "com.docker.compose.project=demo", "busybox",
                     "sh", "-c", "for i in 1 2 3; do echo line $i; done; exec sleep 1000").stdout.strip()
    assert len(cid) == 64
    ps = engine.cli("ps", "--filter", "label=com.docker.compose.project=demo", "--format", "{{.Names}} {{.State}}")
    assert ps.stdout.split() == ["ticker", "running"]
    assert engine.cli("ps", "-q", "--filter", "name=tick").stdout.strip() == cid[:12]
    assert engine.cli("ps", "-q", "--filter", "status=exited").stdout.strip() == ""
    # logs -f: follow until the container stops
    follower = subprocess.Popen(["/usr/local/bin/docker", "logs", "-f", "ticker"], stdout=subprocess.PIPE,
                                env={**os.environ, "DOCKER_HOST": engine.url})
    try:
        got = [follower.stdout.readline() for _ in range(3)]
        assert got == [b"line 1\n", b"line 2\n", b"line 3\n"]
        state = json.loads(engine.cli("inspect", "ticker").stdout)[0]
        assert state["State"]["Running"] and state["State"]["Pid"] > 0
        assert state["Config"]["Labels"]["com.docker.compose.project"] == "demo"
        assert state["Name"] == "/ticker" and state["Id"] == cid
        engine.cli("stop", "-t", "1", "ticker")
        assert follower.wait(timeout=30) == 0
    finally:
        follower.kill()
        follower.wait()
    state = json.loads(engine.cli("inspect", "ticker").stdout)[0]["State"]
    assert state["Status"] == "exited" and state["ExitCode"] == 137
    assert engine.cli("ps", "-aq", "--filter", "status=exited").stdout.strip() == cid[:12]
    engine.cli("rm", "ticker")
    missing = engine.cli("inspect", "ticker", check=False)
    assert missing.returncode != 0 and "No such object: ticker" in missing.stderr


def test_exec_and_exit_code(engine):
    engine.cli("run", "-d", "--name", "box", "busybox", "sleep", "1000")
    out = engine.cli("exec", "box", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert out.returncode == 3 and out.stdout == "out\n" and out.stderr == "err\n"
    assert engine.cli("exec", "-e", "X=42", "-w", "/tmp", "box", "sh", "-c", "echo $X $PWD").stdout == "42 /tmp\n"
    fed = engine.cli("exec", "-i", "box", "sh", "-c", "read line; echo got $line", input=b"hello\n", timeout=30)
    assert fed.stdout == "got hello\n"


def test_exec_it_under_a_pty(engine):
    engine.cli("run", "-d", "--name", "ttybox", "busybox", "sleep", "1000")
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["DOCKER_HOST"] = engine.url
        os.execv("/usr/local/bin/docker", ["docker", "exec", "-it", "ttybox", "sh", "-c", "tty && exit 5"])
    out = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            data = os.read(fd, 1024)
        except OSError:
            break
        if not data:
            break
        out += data
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert b"/dev/pts/" in out, out
    assert os.waitstatus_to_exitcode(status) == 5


def test_cli_errors_and_name_conflict(engine):
    engine.cli("create", "--name", "dup", "busybox", "true")
    again = engine.cli("create", "--name", "dup", "busybox", "true", check=False)
    assert again.returncode != 0 and "already in use" in again.stderr
    bad = engine.cli("run", "--rm", "busybox", "/no/such/binary", check=False)
    assert bad.returncode == 127
    assert engine.cli("ps", "-aq", "--filter", "name=dup").stdout.strip()
    engine.cli("rm", "dup")


def test_events_stream_for_a_container_run(engine):
    since = str(int(time.time()) - 1)
    engine.cli("run", "--rm", "--name", "evented", "busybox", "true")
    out = engine.cli("events", "--since", since, "--until", str(int(time.time()) + 1), "--filter",
                     "container=evented", "--format", "{{.Action}}").stdout.split()
    assert out[:3] == ["create", "start", "die"] and out[-1] == "destroy"


def test_cli_housekeeping_commands(engine):
    engine.cli("run", "-d", "--name", "keeper", "--network", "none", "busybox", "sleep", "1000")
    stats = engine.cli("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}").stdout.split()
    assert stats == ["keeper", "1"]
    assert "sleep 1000" in engine.cli("top", "keeper").stdout
    engine.cli("update", "--memory", "64m", "--memory-swap", "128m", "keeper")
    assert json.loads(engine.cli("inspect", "keeper").stdout)[0]["HostConfig"]["Memory"] == 64 << 20
    engine.cli("restart", "-t", "0", "keeper")
    assert engine.cli("inspect", "-f", "{{.State.Running}}", "keeper").stdout.strip() == "true"
    engine.cli("create", "--name", "once", "--network", "none", "busybox", "echo", "started")
    assert engine.cli("start", "-a", "once").stdout == "started\n"
    assert engine.cli("wait", "once").stdout.strip() == "0"
    pruned = engine.cli("container", "prune", "-f").stdout
    assert "Deleted Containers" in pruned and engine.cli("ps", "-aq", "--filter", "name=once").stdout == ""
    engine.cli("exec", "keeper", "dd", "if=/dev/zero", "of=/tmp/blob", "bs=1024", "count=256")
    sized = engine.cli("ps", "-s", "--format", "{{.Names}} {{.Size}}").stdout
    assert sized.startswith("keeper 26") and "virtual" in sized  # 262kB written (+ the image, virtual)
    engine.cli("system", "prune", "-f")
    assert engine.cli("ps", "-q", "--filter", "name=keeper").stdout.strip()


def test_log_rotation_options(engine):
    engine.cli("run", "--name", "chatty", "--network", "none", "--log-opt", "max-size=1k", "--log-opt", "max-file=3",
               "busybox", "sh", "-c", "i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); done")
    log_path = json.loads(engine.cli("inspect", "chatty").stdout)[0]["LogPath"]
    rotated = sorted(p for p in os.listdir(os.path.dirname(log_path)) if p.startswith(os.path.basename(log_path)))
    assert 1 < len(rotated) <= 3
    lines = engine.cli("logs", "chatty").stdout.splitlines()
    assert lines[-1] == "line-399" and lines == [f"line-{i}" for i in range(400 - len(lines), 400)]
    assert engine.cli("logs", "--tail", "2", "chatty").stdout == "line-398\nline-399\n"


def test_plain_cli_run_has_no_warnings(engine):
    out = engine.cli("run", "--rm", "--network", "none", "-m", "64m", "--cpus", "0.5", "busybox", "true")
    assert out.stderr == ""
    warned = engine.cli("run", "--rm", "--network", "none", "--cpu-rt-runtime", "1000", "busybox", "true")
    assert "HostConfig.CpuRealtimeRuntime is not supported" in warned.stderr


def test_run_interactive_stdin_pipe(engine):
    out = engine.cli("run", "--rm", "-i", "--network", "none", "busybox", "sh", "-c", "tr a-z A-Z",
                     input=b"piped through\n", timeout=30)
    assert out.stdout == "PIPED THROUGH\n" and out.returncode == 0


def _pids_max(pid: int) -> str:
    """The pids limit of the cgroup ``pid`` is in, read on the host (v1 pids controller or the v2 tree)."""
    for line in open(f"/proc/{pid}/cgroup"):
        _, ctrls, path = line.rstrip("\n").split(":", 2)
        if "pids" in ctrls.split(","):
            return open(f"/sys/fs/cgroup/pids{path}/pids.max").read().strip()
    for line in open(f"/proc/{pid}/cgroup"):
        if line.startswith("0::"):
            return open(f"/sys/fs/cgroup{line[3:].strip()}/pids.max").read().strip()
    raise AssertionError("no pids cgroup")


def test_update_of_a_stopped_container_holds_at_its_next_start(engine):
    """``docker update`` keeps the limits in the container's spec, not only in the running cgroup."""
    engine.cli("create", "--name", "limited", "--network", "none", "--pids-limit", "50", "busybox", "sleep", "1000")
    engine.cli("update", "--pids-limit", "77", "limited")
    engine.cli("start", "limited")
    pid = int(engine.cli("inspect", "-f", "{{.State.Pid}}", "limited").stdout)
    assert _pids_max(pid) == "77"
    engine.cli("update", "--pids-limit", "88", "limited")  # running: at once, and again after a restart
    assert _pids_max(pid) == "88"
    engine.cli("restart", "-t", "0", "limited")
    pid = int(engine.cli("inspect", "-f", "{{.State.Pid}}", "limited").stdout)
    assert _pids_max(pid) == "88"


def test_hostname_variable_is_the_containers_hostname(engine):
    """As Docker's: HOSTNAME in the process's environment is the container's hostname (its short id unless set),
    added at start; the container's Config.Env does not carry it; the user's own HOSTNAME wins."""
    cid = engine.cli("create", "--network", "none", "busybox", "sh", "-c",
                     'echo "$HOSTNAME $(hostname)"').stdout.strip()
    env = json.loads(engine.cli("inspect", cid).stdout)[0]["Config"]["Env"]
    assert not [e for e in env if e.startswith("HOSTNAME=")]
    assert engine.cli("start", "-a", cid).stdout.split() == [cid[:12], cid[:12]]
    named = engine.cli("run", "--rm", "--network", "none", "-h", "box", "busybox", "sh", "-c", 'echo "$HOSTNAME"')
    assert named.stdout == "box\n"
    mine = engine.cli("run", "--rm", "--network", "none", "-e", "HOSTNAME=mine", "busybox", "sh", "-c",
                      'echo "$HOSTNAME"')
    assert mine.stdout == "mine\n"
    engine.cli("rm", cid)
