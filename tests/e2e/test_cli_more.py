"""End to end against our own engine: ``cp`` (both ways, bytes compared), ``scale`` (containers counted),
``stats --no-stream``, ``attach``, ``commit`` (the image runs) and ``export`` (the tar holds the file)."""
from __future__ import annotations

import io
import json
import os
import queue
import select
import subprocess
import tarfile
import termios
import threading
import time

import pytest

from tests.e2e.test_up_down import PYCOMPOSE, _environ, _wait_for, engine, project  # noqa: F401

pytestmark = pytest.mark.root

_SLEEPER = """
services:
  box:
    image: busybox:local
    command: ["sleep", "3600"]
"""


def _service_names(project, service: str) -> list[str]:
    return sorted(c.name for c in project.containers() if c.labels["com.docker.compose.service"] == service)


def _raw(project, *args: str, stdin: bytes = b"") -> bytes:
    """Run pycompose with bytes on stdin; its stdout as bytes (exit 0 asserted)."""
    proc = subprocess.run([str(PYCOMPOSE), *args], cwd=project.dir, env=_environ(project.engine), input=stdin,
                          capture_output=True, timeout=180)
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr, proc.stderr
    return proc.stdout


def test_cp_in_and_out_compares_bytes(engine, project, tmp_path):  # noqa: F811
    project.write(_SLEEPER)
    project.compose("up", "-d")
    payload = os.urandom(70_000) + b"\0end"
    local = tmp_path / "in.bin"
    local.write_bytes(payload)
    os.chown(local, 1234, 1234)

    project.compose("cp", str(local), "box:/tmp/copied.bin")
    box = project.container("box")
    assert box.exec_run(["md5sum", "/tmp/copied.bin"]).output.split()[0].decode() == __import__(
        "hashlib").md5(payload).hexdigest()
    assert box.exec_run(["stat", "-c", "%u:%g", "/tmp/copied.bin"]).output.strip() == b"0:0"  # root without -a
    project.compose("cp", "-a", str(local), "box:/tmp/kept.bin")
    assert box.exec_run(["stat", "-c", "%u:%g", "/tmp/kept.bin"]).output.strip() == b"1234:1234"

    out = tmp_path / "out.bin"
    project.compose("cp", "box:/tmp/copied.bin", str(out))
    assert out.read_bytes() == payload
    outdir = tmp_path / "outdir"
    outdir.mkdir()
    project.compose("cp", "box:/tmp/copied.bin", str(outdir))  # into an existing directory: keeps its name
    assert (outdir / "copied.bin").read_bytes() == payload

    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "leaf.txt").write_text("leaf\n")
    project.compose("cp", str(tree), "box:/tmp")  # into an existing directory: /tmp/tree
    assert box.exec_run(["cat", "/tmp/tree/sub/leaf.txt"]).output == b"leaf\n"
    project.compose("cp", str(tree), "box:/renamed")  # a new name: the directory copied as /renamed
    assert box.exec_run(["cat", "/renamed/sub/leaf.txt"]).output == b"leaf\n"
    back = tmp_path / "back"
    project.compose("cp", "box:/tmp/tree/.", str(back))  # contents into a new directory
    assert (back / "sub" / "leaf.txt").read_text() == "leaf\n"

    box.exec_run(["ln", "-s", "/tmp/copied.bin", "/tmp/link"])
    project.compose("cp", "-L", "box:/tmp/link", str(tmp_path / "followed"))
    assert (tmp_path / "followed").read_bytes() == payload
    project.compose("cp", "box:/tmp/link", str(tmp_path / "unfollowed"))
    assert os.readlink(tmp_path / "unfollowed") == "/tmp/copied.bin"

    streamed = _raw(project, "cp", "box:/tmp/copied.bin", "-")
    with tarfile.open(fileobj=io.BytesIO(streamed)) as tar:
        assert tar.extractfile("copied.bin").read() == payload
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("from-stdin.txt")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"stdin\n"))
    _raw(project, "cp", "-", "box:/tmp", stdin=buf.getvalue())
    assert box.exec_run(["cat", "/tmp/from-stdin.txt"]).output == b"stdin\n"


def test_cp_errors_are_one_line(engine, project, tmp_path):  # noqa: F811
    project.write(_SLEEPER)
    project.compose("up", "-d")
    for args, words in [(("box:/no/such", str(tmp_path / "x")), "could not find the file /no/such"),
                        ((str(tmp_path / "missing"), "box:/tmp"), "could not find the file"),
                        (("nosuch:/etc/passwd", str(tmp_path / "x")), "no such service: nosuch"),
                        (("--index", "3", "box:/etc/passwd", str(tmp_path / "x")), "no container #3"),
                        ((str(tmp_path), str(tmp_path)), "must be SERVICE:PATH")]:
        failed = project.compose("cp", *args, check=False)
        assert failed.code == 1, (args, failed)
        assert words in failed.err and len(failed.err.strip().splitlines()) == 1, (args, failed.err)


def test_cp_into_every_replica_and_by_index(engine, project, tmp_path):  # noqa: F811
    project.write(_SLEEPER)
    project.compose("up", "-d", "--scale", "box=2")
    (tmp_path / "f").write_text("all\n")
    project.compose("cp", str(tmp_path / "f"), "box:/tmp/f")
    (tmp_path / "g").write_text("two\n")
    project.compose("cp", "--index", "2", str(tmp_path / "g"), "box:/tmp/g")
    client = engine.client()
    one, two = (client.containers.get(f"{project.name}-box-{n}") for n in (1, 2))
    assert one.exec_run(["cat", "/tmp/f"]).output == two.exec_run(["cat", "/tmp/f"]).output == b"all\n"
    assert two.exec_run(["cat", "/tmp/g"]).output == b"two\n"
    assert one.exec_run(["test", "-e", "/tmp/g"]).exit_code == 1


def test_scale_up_and_down_counts_containers(engine, project):  # noqa: F811
    project.write("""
services:
  box:
    image: busybox:local
    command: ["sleep", "3600"]
    depends_on: [dep]
  dep:
    image: busybox:local
    command: ["sleep", "3600"]
""")
    name = project.name
    project.compose("scale", "--no-deps", "box=3")
    assert _service_names(project, "box") == [f"{name}-box-{n}" for n in (1, 2, 3)]
    assert _service_names(project, "dep") == []  # --no-deps: the dependency is left alone
    assert all(c.status == "running" for c in project.containers())
    project.compose("scale", "box=1")
    assert _service_names(project, "box") == [f"{name}-box-1"]
    assert _service_names(project, "dep") == [f"{name}-dep-1"]  # brought up as a dependency
    project.compose("scale", "box=0", "dep=2")
    assert _service_names(project, "box") == []
    assert _service_names(project, "dep") == [f"{name}-dep-1", f"{name}-dep-2"]
    for args, words in [(("nosuch=2",), "no such service: nosuch"), (("box",), "invalid scale specifier 'box'"),
                        (("box=-1",), "invalid scale specifier")]:
        failed = project.compose("scale", *args, check=False)
        assert failed.code == 1 and words in failed.err and len(failed.err.strip().splitlines()) == 1, failed


def test_stats_no_stream_json_and_stream(engine, project):  # noqa: F811
    project.write("""
services:
  box:
    image: busybox:local
    command: ["sh", "-c", "while :; do :; done"]
  idle:
    image: busybox:local
    command: ["true"]
""")
    project.compose("up", "-d")
    name = project.name
    _wait_for(lambda: project.container("idle").status == "exited", what="idle to exit")
    table = project.compose("stats", "--no-stream").out.splitlines()
    assert table[0].split() == ["CONTAINER", "ID", "NAME", "CPU", "%", "MEM", "USAGE", "/", "LIMIT", "MEM", "%",
                                "NET", "I/O", "BLOCK", "I/O", "PIDS"]
    assert [line.split()[1] for line in table[1:]] == [f"{name}-box-1"]  # running only without -a
    rows = [json.loads(line) for line in project.compose("stats", "--no-stream", "-a", "--format", "json").out
            .splitlines()]
    by_name = {r["Name"]: r for r in rows}
    assert set(by_name) == {f"{name}-box-1", f"{name}-idle-1"}
    busy = by_name[f"{name}-box-1"]
    assert busy["ID"] == project.container("box").id[:12]
    assert float(busy["CPUPerc"].rstrip("%")) > 5.0  # a busy loop, measured over two samples
    assert int(busy["PIDs"]) >= 1 and "/" in busy["MemUsage"]
    assert project.compose("stats", "--no-stream", "--format", "{{.Name}}:{{.PIDs}}", "box").out.startswith(
        f"{name}-box-1:")
    failed = project.compose("stats", "--no-stream", "--format", "{{.Nope}}", check=False)
    assert failed.code == 1 and "no field 'Nope'" in failed.err

    proc = subprocess.Popen([str(PYCOMPOSE), "stats", "--format", "json", "box"], cwd=project.dir,
                            env=_environ(engine), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
        first = json.loads(lines.get(timeout=30))  # waits on the pipe (through the queue) for the first draw
        second = json.loads(lines.get(timeout=30))
        assert first["Name"] == second["Name"] == f"{name}-box-1"
        project.compose("scale", "box=2")  # a container started meanwhile joins the stream
        while json.loads(lines.get(timeout=30))["Name"] != f"{name}-box-2":
            pass
        proc.send_signal(2)
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_commit_makes_an_image_that_runs(engine, project):  # noqa: F811
    project.write(_SLEEPER)
    project.compose("up", "-d")
    box = project.container("box")
    assert box.exec_run(["sh", "-c", "echo committed-marker > /marker"]).exit_code == 0
    reference = f"{project.name}-img:v1"
    client = engine.client()
    try:
        out = project.compose("commit", "-a", "A. Author <a@example.com>", "-m", "a message", "-c",
                              "ENV COMMITTED=yes", "-c", 'CMD ["cat", "/marker"]', "box", reference).out
        image = client.images.get(reference)
        assert out.strip() == image.id
        assert "COMMITTED=yes" in image.attrs["Config"]["Env"]
        assert image.history()[0]["Comment"] == "a message"  # the new layer's history entry
        assert (image.attrs["Author"], image.attrs["Comment"]) == ("A. Author <a@example.com>", "a message")
        assert client.containers.run(reference, remove=True).strip() == b"committed-marker"
        failed = project.compose("commit", "--index", "2", "box", check=False)
        assert failed.code == 1 and "no container #2" in failed.err
    finally:
        for c in client.containers.list(all=True, filters={"ancestor": reference}):
            c.remove(force=True)
        client.images.remove(reference, force=True)


def test_export_tar_holds_the_file(engine, project, tmp_path):  # noqa: F811
    project.write(_SLEEPER)
    project.compose("up", "-d")
    assert project.container("box").exec_run(["sh", "-c", "echo exported > /root-file"]).exit_code == 0
    target = tmp_path / "fs.tar"
    project.compose("export", "-o", str(target), "box")
    with tarfile.open(target) as tar:
        assert tar.extractfile("root-file").read() == b"exported\n"
        assert "bin/busybox" in tar.getnames()
    streamed = _raw(project, "export", "box")
    with tarfile.open(fileobj=io.BytesIO(streamed)) as tar:
        assert tar.extractfile("root-file").read() == b"exported\n"
    failed = project.compose("export", "--index", "5", "-o", str(tmp_path / "no.tar"), "box", check=False)
    assert failed.code == 1 and "no container #5" in failed.err and not (tmp_path / "no.tar").exists()


def test_attach_sees_output_sends_input_and_proxies_signals(engine, project):  # noqa: F811
    project.write("""
services:
  reader:
    image: busybox:local
    stdin_open: true
    command: ["sh", "-c", "echo ready; read line; echo got:$$line; exit 3"]
  ticker:
    image: busybox:local
    command: ["sh", "-c", "trap 'echo trapped; exit 7' INT; while :; do echo tick; sleep 0.2; done"]
""")
    project.compose("up", "-d")
    _wait_for(lambda: b"ready" in project.container("reader").logs(), what="reader to start")
    proc = subprocess.Popen([str(PYCOMPOSE), "attach", "reader"], cwd=project.dir, env=_environ(engine),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(b"hello\n", timeout=60)
    assert b"got:hello" in out, (out, err)
    assert proc.returncode == 3, err  # the container's exit code

    proc = subprocess.Popen([str(PYCOMPOSE), "attach", "--no-stdin", "ticker"], cwd=project.dir,
                            env=_environ(engine), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"tick\n"  # blocks on the pipe until attached output arrives
        proc.send_signal(2)  # --sig-proxy (default): the container's shell gets the SIGINT
        rest = proc.stdout.read()
        assert b"trapped" in rest
        assert proc.wait(timeout=30) == 7
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    failed = project.compose("attach", "--detach-keys", "ctrl-9", "ticker", check=False)
    assert failed.code == 1 and "invalid key 'ctrl-9'" in failed.err


def test_attach_detach_keys_leave_it_running_and_cp_all_reaches_run_containers(engine, project, tmp_path):  # noqa: F811
    project.write("""
services:
  echo:
    image: busybox:local
    stdin_open: true
    command: ["sh", "-c", "echo ready; exec cat"]
""")
    project.compose("up", "-d")
    echo = project.container("echo")
    _wait_for(lambda: b"ready" in echo.logs(), what="echo to start")
    proc = subprocess.run([str(PYCOMPOSE), "attach", "--detach-keys", "ctrl-a,x", "echo"], cwd=project.dir,
                          env=_environ(engine), input=b"line\n\x01x", capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    echo.reload()
    assert echo.status == "running"  # detached, not stopped

    project.compose("run", "-d", "--name", f"{project.name}-oneoff", "echo", "sleep", "3600")
    oneoff = engine.client().containers.get(f"{project.name}-oneoff")
    (tmp_path / "f").write_text("to all\n")
    project.compose("cp", str(tmp_path / "f"), "echo:/tmp/f")
    assert oneoff.exec_run(["test", "-e", "/tmp/f"]).exit_code == 1  # service containers only by default
    project.compose("cp", "--all", str(tmp_path / "f"), "echo:/tmp/f")
    assert oneoff.exec_run(["cat", "/tmp/f"]).output == b"to all\n"
    assert echo.exec_run(["cat", "/tmp/f"]).output == b"to all\n"


class _Terminal:
    """``pycompose attach ARGS`` on a pty of its own: what it printed so far, waited for up to a deadline."""

    def __init__(self, engine, project, *args: str) -> None:
        import pty

        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([str(PYCOMPOSE), "attach", *args], cwd=project.dir, env=_environ(engine),
                                     stdin=slave, stdout=slave, stderr=subprocess.PIPE, start_new_session=True)
        os.close(slave)
        self.seen = b""

    def until_raw(self, deadline: float) -> None:
        while termios.tcgetattr(self.master)[3] & termios.ECHO:  # poll (with a deadline) until attach made it raw
            assert time.monotonic() < deadline and self.proc.poll() is None, "the terminal never went raw"
            time.sleep(0.01)

    def read_until(self, word: bytes, deadline: float) -> None:
        while word not in self.seen:
            ready, _, _ = select.select([self.master], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"no {word!r} in {self.seen!r}"
            self.seen += os.read(self.master, 4096)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stderr.close()
        os.close(self.master)


def test_attach_with_a_terminal(engine, project):  # noqa: F811
    project.write("""
services:
  shell:
    image: busybox:local
    tty: true
    stdin_open: true
    command: ["sh"]
""")
    project.compose("up", "-d")
    term = _Terminal(engine, project, "shell")
    try:
        term.until_raw(time.monotonic() + 30)
        os.write(term.master, b"echo hi-$((40+2))\r")
        term.read_until(b"hi-42", time.monotonic() + 30)  # the shell's echo, through the container's terminal
        os.write(term.master, b"exit 5\r")
        assert term.proc.wait(timeout=30) == 5
    finally:
        term.close()


def test_attach_tty_custom_detach_keys_reach_the_engine(engine, project):  # noqa: F811
    """The engine watches a tty's input for detach keys as Docker's daemon does; attach sends it its own
    (``detachKeys``), so the default ctrl-p,ctrl-q are plain input under ``--detach-keys ctrl-x,y``."""
    project.write("""
services:
  raw:
    image: busybox:local
    tty: true
    stdin_open: true
    command: ["sh", "-c", "stty raw -echo; exec cat"]
""")
    project.compose("up", "-d")
    term = _Terminal(engine, project, "--detach-keys", "ctrl-x,y", "raw")
    try:
        deadline = time.monotonic() + 30
        term.until_raw(deadline)
        os.write(term.master, b"ab\x10\x11cd")
        term.read_until(b"ab\x10\x11cd", deadline)  # cat sends it back: the engine did not take ctrl-p,ctrl-q
        os.write(term.master, b"\x18y")
        assert term.proc.wait(timeout=30) == 0
        raw = project.container("raw")
        raw.reload()
        assert raw.status == "running"
    finally:
        term.close()


def test_bad_input_is_one_line(engine, project):  # noqa: F811
    project.write(_SLEEPER)
    cases = [(("attach", "nosuch"), "no such service: nosuch"), (("stats", "--no-stream", "nosuch"), "no such service"),
             (("commit", "nosuch"), "no such service"), (("export", "-o", "/dev/null", "nosuch"), "no such service"),
             (("scale", "nosuch=1"), "no such service"), (("attach", "box"), "has no running container"),
             (("export", "-o", "/dev/null", "box"), "has no container"), (("commit", "--index=-1", "box"),
                                                                         "indexes start at 1"),
             (("attach", "--sig-proxy", "maybe", "box"), "expected true or false")]
    for args, words in cases:
        failed = project.compose(*args, check=False)
        assert failed.code == 1 and words in failed.err, (args, failed)
        assert len(failed.err.strip().splitlines()) == 1, (args, failed.err)
