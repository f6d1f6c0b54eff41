"""The one way the compose side reaches an engine: ``connect(host=None) -> docker.APIClient``.

The host is ``host``, else ``PYCOMPOSE_HOST``, else ``DOCKER_HOST``, else the default socket
``unix:///run/pycompose/engine.sock``. When the default socket does not answer, the engine is started detached
(``python -m runtime.daemon``, in its own session, outliving this command) and we wait for ``/_ping`` with a
deadline. An explicitly named host is never autostarted: it must answer, or the user is told so.
"""
from __future__ import annotations

import os
import socket
import sys
import time
from typing import TYPE_CHECKING, Any

from compose import trace
from compose.errors import UserError

if TYPE_CHECKING:
    import docker

__all__ = ["DEFAULT_HOST", "connect", "resolve_host", "engine_socket"]

DEFAULT_HOST = "unix:///run/pycompose/engine.sock"
_START_TIMEOUT = 30.0
_API_TIMEOUT = 300
_POOL = 32  # connections kept for the executor's parallel engine calls (COMPOSE_PARALLEL_LIMIT default)


def resolve_host(host: str | None = None) -> str:
    """``host`` > ``PYCOMPOSE_HOST`` > ``DOCKER_HOST`` > the default socket."""
    return host or os.environ.get("PYCOMPOSE_HOST") or os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def engine_socket(host: str | None = None) -> str | None:
    """The host path of the engine's unix socket (None when the engine is reached another way)."""
    return _unix_path(resolve_host(host))


def _unix_path(host: str) -> str | None:
    return host[len("unix://"):] if host.startswith("unix://") else None


def _answers(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(path)
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: engine\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def _autostart(path: str) -> None:
    """Start the engine detached and wait (polling the socket, with a deadline) until it answers."""
    import subprocess  # here: every command imports this module, few start the engine

    os.makedirs(os.path.dirname(path), exist_ok=True)
    log_dir = "/var/log/pycompose" if os.geteuid() == 0 else os.path.dirname(path)
    os.makedirs(log_dir, exist_ok=True)
    log_path = os.path.join(log_dir, "engine.log")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "runtime.daemon", "--host", f"unix://{path}"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)
    deadline = time.monotonic() + _START_TIMEOUT
    while not _answers(path):
        code = proc.poll()
        if code is not None and not _answers(path):
            raise UserError.single(f"the pycompose engine did not start (exit {code}); see {log_path}")
        if time.monotonic() > deadline:
            raise UserError.single(f"the pycompose engine did not answer on {path} within {_START_TIMEOUT:.0f} s; "
                                   f"see {log_path}")
        time.sleep(0.02)  # polling the socket with a deadline


def _traced(response: Any, *args: object, **kwargs: object) -> None:
    """``PYCOMPOSE_TRACE``: each round trip (a requests response hook on the client's session)."""
    trace.request(response.request.method, response.request.path_url, response.status_code,
                  response.elapsed.total_seconds())


def connect(host: str | None = None) -> "docker.APIClient":
    """A docker-py low-level client for the engine at ``host`` (see the module docstring for the order)."""
    import docker
    import docker.errors

    url = resolve_host(host)
    path = _unix_path(url)
    if path is not None and url == DEFAULT_HOST and not _answers(path):
        _autostart(path)
    try:
        client = docker.APIClient(base_url=url, version="1.43", timeout=_API_TIMEOUT, max_pool_size=_POOL)
        if trace.enabled():
            client.hooks["response"].append(_traced)
        client.ping()
    except (docker.errors.DockerException, OSError) as err:
        raise UserError.single(f"cannot reach the engine at {url}: {err}; is it running? "
                               "(set PYCOMPOSE_HOST or DOCKER_HOST to its socket)") from None
    return client
