"""End to end: ``pycompose watch`` as a subprocess against our own engine. A service serving a directory with
``busybox httpd`` gets files synced in and deleted, a sync+restart rule restarts it (new StartedAt), a sync+exec
rule runs its command, and a rebuild rule (a Dockerfile with ``COPY``) builds a new image and recreates the
container; SIGINT stops the watcher and leaves the containers running, as Docker Compose does."""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.test_up_down import PYCOMPOSE, _free_port, _project_containers, _wait_for, compose, engine  # noqa: F401

pytestmark = pytest.mark.root


def _project(tmp_path: Path, name: str, port: int) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text(
        "FROM busybox:local\nCOPY version.txt /www/version.txt\n"
        'CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n')
    (tmp_path / "app" / "version.txt").write_text("v1\n")
    for d in ("site", "conf", "hooks"):
        (tmp_path / d).mkdir()
    (tmp_path / "site" / "first.html").write_text("first\n")
    (tmp_path / "compose.yaml").write_text(f"""
name: {name}
services:
  web:
    build: ./app
    ports: ["127.0.0.1:{port}:8080"]
    init: true
    develop:
      watch:
        - path: ./site
          action: sync
          target: /www/site
          initial_sync: true
          ignore: ["*.tmp"]
        - path: ./conf
          action: sync+restart
          target: /etc/web
        - path: ./hooks
          action: sync+exec
          target: /hooks
          exec:
            command: ["sh", "-c", "cat /hooks/* > /tmp/hook-ran"]
        - path: ./app/version.txt
          action: rebuild
""")
    return tmp_path


class _Watch:
    """``pycompose watch`` in the background; its output lines go to a queue read by a thread."""

    def __init__(self, engine, project_dir: Path, *args: str) -> None:
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
        environ.update({"PYCOMPOSE_HOST": engine.url, "COMPOSE_PROGRESS": "plain"})
        self.proc = subprocess.Popen([str(PYCOMPOSE), *(args or ("watch",))], cwd=project_dir, env=environ,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, text: str, timeout: float = 120.0) -> None:
        """Wait (on the output pipe) for a line containing ``text`` (lines already read count: each text the
        tests wait for appears once)."""
        if any(text in line for line in self.seen):
            return
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no {text!r} in watch output:\n" + "\n".join(self.seen)) from None
            if line is None:
                raise AssertionError(f"watch exited ({self.proc.wait()}) before {text!r}:\n" + "\n".join(self.seen))
            self.seen.append(line)
            assert "Traceback" not in line, "\n".join(self.seen)
            if text in line:
                return

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def _get(port: int, path: str) -> bytes | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return reply.read()
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise
    except OSError:
        return None


def _cat(container, path: str) -> str | None:
    result = container.exec_run(["cat", path])
    return result.output.decode() if result.exit_code == 0 else None


def test_watch_sync_delete_restart_exec_rebuild(engine, tmp_path):
    name = f"watch{os.getpid()}"
    port = _free_port()
    project_dir = _project(tmp_path, name, port)
    watch = None
    try:
        watch = _Watch(engine, project_dir)
        watch.expect("Watch enabled")
        client = engine.client()
        web = client.containers.get(f"{name}-web-1")
        assert _wait_for(lambda: _get(port, "/site/first.html") == b"first\n", what="initial sync served")

        # sync: a new file (in a new directory) appears and is served; an ignored one is not copied
        (project_dir / "site" / "deep").mkdir()
        (project_dir / "site" / "deep" / "page.html").write_text("hello from watch\n")
        (project_dir / "site" / "scratch.tmp").write_text("x")
        assert _wait_for(lambda: _get(port, "/site/deep/page.html") == b"hello from watch\n",
                         what="synced file served by httpd")
        assert _cat(web, "/www/site/scratch.tmp") is None

        # deletion: gone from the container
        (project_dir / "site" / "deep" / "page.html").unlink()
        _wait_for(lambda: _cat(web, "/www/site/deep/page.html") is None, what="deleted file removed")
        assert _get(port, "/site/first.html") == b"first\n"

        # sync+restart: the file lands and the container restarts (new StartedAt)
        started = web.attrs["State"]["StartedAt"]
        (project_dir / "conf" / "web.conf").write_text("level=2\n")
        watch.expect('Restarting service "web"')

        def restarted() -> bool:
            web.reload()
            return web.attrs["State"]["StartedAt"] != started and web.status == "running"

        _wait_for(restarted, what="a new StartedAt")
        assert _cat(web, "/etc/web/web.conf") == "level=2\n"

        # sync+exec: the command runs in the container after the sync
        (project_dir / "hooks" / "h1").write_text("hooked\n")
        assert _wait_for(lambda: _cat(web, "/tmp/hook-ran") == "hooked\n", what="exec after sync")

        # rebuild: new image from the Dockerfile's COPY, container recreated
        old_id = web.id
        (project_dir / "app" / "version.txt").write_text("v2\n")
        watch.expect("successfully built")

        def recreated():
            found = [c for c in _project_containers(engine, name) if c.status == "running"]
            return found[0] if found and found[0].id != old_id else None

        new = _wait_for(recreated, what="a new container")
        assert _cat(new, "/www/version.txt") == "v2\n"
        assert _wait_for(lambda: _get(port, "/version.txt") == b"v2\n", what="rebuilt content served")

        # SIGINT: the watcher ends cleanly, the container keeps running
        assert watch.stop() == 0, "\n".join(watch.seen)
        new.reload()
        assert new.status == "running"
    finally:
        if watch is not None:
            watch.stop()
        compose(engine, project_dir, "down", "-v", "--rmi", "local", "-t", "0", check=False)
    assert _project_containers(engine, name) == []


def test_watch_without_develop_section_is_a_user_error(engine, tmp_path):
    (tmp_path / "compose.yaml").write_text(f"name: nowatch{os.getpid()}\nservices:\n  a:\n    image: busybox:local\n")
    result = compose(engine, tmp_path, "watch", "--no-up", check=False)
    assert result.code == 1
    assert "none of the selected services is configured for watch" in result.err


def test_up_watch_syncs_beside_the_log_stream_and_follows_a_rebuild(engine, tmp_path):
    name = f"upwatch{os.getpid()}"
    (tmp_path / "site").mkdir()
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text(
        'FROM busybox:local\nCOPY v.txt /v.txt\nCMD ["sh", "-c", "cat /v.txt; exec sleep 3600"]\n')
    (tmp_path / "app" / "v.txt").write_text("version-one\n")
    (tmp_path / "compose.yaml").write_text(f"""
name: {name}
services:
  web:
    image: busybox:local
    command: ["sh", "-c", "mkdir -p /www && echo serving && exec httpd -f -p 8080 -h /www"]
    init: true
    develop:
      watch:
        - path: ./site
          action: sync
          target: /www
  worker:
    image: busybox:local
    user: "1000:1001"
    command: ["sleep", "3600"]
    init: true
    develop:
      watch:
        - path: ./site
          action: sync
          target: /tmp/sync
  app:
    build: ./app
    init: true
    develop:
      watch:
        - path: ./app/v.txt
          action: rebuild
""")
    up = _Watch(engine, tmp_path, "up", "--watch")
    try:
        up.expect("serving")  # the log stream is attached (and the watcher started before it)
        up.expect("version-one")
        web = engine.client().containers.get(f"{name}-web-1")
        (tmp_path / "site" / "index.html").write_text("via up --watch\n")
        assert _wait_for(lambda: _cat(web, "/www/index.html") == "via up --watch\n", what="sync under up --watch")
        # files land owned by the container's user, who can rewrite them
        worker = engine.client().containers.get(f"{name}-worker-1")
        assert _wait_for(lambda: _cat(worker, "/tmp/sync/index.html") == "via up --watch\n", what="worker sync")
        assert worker.exec_run(["stat", "-c", "%u:%g", "/tmp/sync/index.html"]).output.decode().strip() == "1000:1001"
        assert worker.exec_run(["sh", "-c", "echo more >> /tmp/sync/index.html"]).exit_code == 0

        # a rebuild replaces app-1; up keeps going and streams the new container's logs
        old_app = engine.client().containers.get(f"{name}-app-1").id
        (tmp_path / "app" / "v.txt").write_text("version-two\n")
        up.expect("version-two")
        assert engine.client().containers.get(f"{name}-app-1").id != old_app
        assert not any("app-1 exited" in line for line in up.seen), "\n".join(up.seen)
        assert up.proc.poll() is None

        assert up.stop() == 130  # as plain ``up``: Ctrl-C stops the containers
        web.reload()
        worker.reload()
        assert web.status == "exited" and worker.status == "exited"
    finally:
        up.stop()
        compose(engine, tmp_path, "down", "--rmi", "local", "-t", "0", check=False)
    assert _project_containers(engine, name) == []


def test_watch_path_missing_names_file_line_and_key(engine, tmp_path):
    (tmp_path / "compose.yaml").write_text(f"name: badwatch{os.getpid()}\nservices:\n  a:\n    image: busybox:local\n"
                                           "    develop:\n      watch:\n        - path: ./nope\n"
                                           "          action: sync\n          target: /x\n")
    result = compose(engine, tmp_path, "watch", "--no-up", check=False)
    assert result.code == 1
    assert f"{tmp_path / 'compose.yaml'}:7:" in result.err
    assert "services.a.develop.watch[0].path: " in result.err and "does not exist" in result.err
