"""A small Engine API client over a unix socket for the everyday commands (``ps``, ``logs``, ``exec``, ``top``,
``port``, ``images``, ``kill``, ``pause``, ``unpause``, ``events``, ``ls``...): the docker-py ``APIClient``
methods they call, with the same names, arguments, paths and JSON, so that ``compose.engine`` takes either.

Importing docker-py (requests, urllib3, charset_normalizer...) costs more than such a command does; this client
is standard library only. Anything it does not implement (build, pull progress, archives, the executor's
calls) is handed to a docker-py client made on first use (``__getattr__``), so a light session can still run a
plan. The engine's refusals raise ``compose.engineapi.errors.APIError``/``NotFound`` (``status_code``,
``explanation``), as docker-py's do.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

from compose import trace
from compose.engineapi.errors import APIError, NotFound
from compose.engineapi.frames import demux as _demux
from compose.engineapi.http import Response, hijack, request

__all__ = ["API_VERSION", "Client", "Stream", "convert_filters", "quote", "urlencode"]

API_VERSION = "1.43"  # the version docker-py is pinned to in compose.engine.client
_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def quote(text: str, safe: str = "") -> str:
    """Percent-encoding of everything but the unreserved characters (and ``safe``)."""
    keep = _SAFE | frozenset(safe.encode())
    return "".join(chr(b) if b in keep else f"%{b:02X}" for b in text.encode("utf-8"))


def urlencode(params: dict[str, Any]) -> str:
    """A query string; None values are left out, as requests does."""
    return "&".join(f"{quote(str(k))}={quote(str(v))}" for k, v in params.items() if v is not None)


def convert_filters(filters: dict[str, Any]) -> str:
    """The ``filters`` query value (docker-py's ``utils.convert_filters``): each value a list of strings."""
    out = {}
    for key, value in filters.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        out[key] = [value] if isinstance(value, str) or not isinstance(value, (list, tuple)) else list(value)
    return json.dumps(out)


def _explanation(body: bytes) -> str:
    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message) if message else body.decode("utf-8", "replace").strip()


class Client:
    """The engine at the unix socket ``path``; ``base_url`` as given (``unix:///...``)."""

    def __init__(self, path: str, base_url: str, *, timeout: float = 300.0) -> None:
        self.path = path
        self.base_url = base_url
        self.timeout = timeout
        self._full: Any = None
        self._full_lock = threading.Lock()

    # -- the wire --------------------------------------------------------------------------------------------
    def _target(self, path: str, params: dict[str, Any] | None = None) -> str:
        query = urlencode(params) if params else ""
        return f"/v{API_VERSION}{path}" + (f"?{query}" if query else "")

    def _open(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None, *,
              stream: bool = False, extra_time: float = 0.0) -> Response:
        target = self._target(path, params)
        data = None if body is None else json.dumps(body).encode()
        started = time.perf_counter()
        res = request(self.path, method, target, data, timeout=None if stream else self.timeout + extra_time)
        if trace.enabled():
            trace.request(method, target, res.status, time.perf_counter() - started)
        if res.status >= 400:
            self._raise(res)
        return res

    @staticmethod
    def _raise(res: Response) -> None:
        explanation = _explanation(res.read())
        raise (NotFound if res.status == 404 else APIError)(res.status, explanation)

    def _json(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        raw = self._open(method, path, params, body).read()
        return json.loads(raw) if raw.strip() else None

    def _call(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None) -> None:
        self._open(method, path, params, body).read()

    # -- system ----------------------------------------------------------------------------------------------
    def ping(self) -> bool:
        return self._open("GET", "/_ping").read().strip() == b"OK"

    def version(self) -> dict[str, Any]:
        return self._json("GET", "/version") or {}

    def info(self) -> dict[str, Any]:
        return self._json("GET", "/info") or {}

    def events(self, since: Any = None, until: Any = None, filters: dict[str, Any] | None = None,
               decode: bool | None = None) -> Iterator[Any]:
        """The event stream: dicts (``decode``) or the raw JSON bytes of each event."""
        params = {"since": since, "until": until, "filters": convert_filters(filters) if filters else None}
        res = self._open("GET", "/events", params, stream=True)
        return Stream(res, _json_stream(res.chunks(), decode=bool(decode)))

    # -- containers ------------------------------------------------------------------------------------------
    def containers(self, quiet: bool = False, all: bool = False, trunc: bool = False, latest: bool = False,
                   since: str | None = None, before: str | None = None, limit: int = -1, size: bool = False,
                   filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        params = {"limit": 1 if latest else limit, "all": 1 if all else 0, "size": 1 if size else 0,
                  "trunc_cmd": 1 if trunc else 0, "since": since, "before": before,
                  "filters": convert_filters(filters) if filters else None}
        found = self._json("GET", "/containers/json", params) or []
        return [{"Id": c["Id"]} for c in found] if quiet else found

    def inspect_container(self, container: str) -> dict[str, Any]:
        return self._json("GET", f"/containers/{quote(container)}/json") or {}

    def top(self, container: str, ps_args: str | None = None) -> dict[str, Any]:
        return self._json("GET", f"/containers/{quote(container)}/top", {"ps_args": ps_args}) or {}

    def start(self, container: str) -> None:
        self._call("POST", f"/containers/{quote(container)}/start")

    def stop(self, container: str, timeout: int | None = None) -> None:
        """As docker-py: no ``t`` (the container's StopTimeout) when ``timeout`` is None; the read deadline is the
        client's plus the stop timeout (10 s when unknown)."""
        params = {} if timeout is None else {"t": timeout}
        self._open("POST", f"/containers/{quote(container)}/stop", params,
                   extra_time=10 if timeout is None else timeout).read()

    def restart(self, container: str, timeout: int = 10) -> None:
        self._open("POST", f"/containers/{quote(container)}/restart", {"t": timeout}, extra_time=timeout).read()

    def kill(self, container: str, signal: str | int | None = None) -> None:
        self._call("POST", f"/containers/{quote(container)}/kill", {"signal": signal})

    def pause(self, container: str) -> None:
        self._call("POST", f"/containers/{quote(container)}/pause")

    def unpause(self, container: str) -> None:
        self._call("POST", f"/containers/{quote(container)}/unpause")

    def logs(self, container: str, stdout: bool = True, stderr: bool = True, stream: bool = False,
             timestamps: bool = False, tail: str | int = "all", since: Any = None, follow: bool | None = None,
             until: Any = None) -> Any:
        """As docker-py: the output's payloads (stdout and stderr merged), a stream of chunks or one bytes."""
        if tail != "all" and (not isinstance(tail, int) or tail < 0):
            tail = "all"
        params: dict[str, Any] = {"stderr": 1 if stderr else 0, "stdout": 1 if stdout else 0,
                                  "timestamps": 1 if timestamps else 0, "follow": 1 if follow else 0, "tail": tail}
        for key, value in (("since", since), ("until", until)):
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                params[key] = value
        res = self._open("GET", f"/containers/{quote(container)}/logs", params, stream=True)
        tty = bool((self.inspect_container(container).get("Config") or {}).get("Tty"))
        chunks = res.chunks() if tty else (payload for _, payload in _demux(res.chunks()))
        return Stream(res, chunks) if stream else b"".join(chunks)

    def export(self, container: str, chunk_size: int = 2 << 20) -> "Stream":
        """The container's filesystem as a tar stream (docker-py's ``export``)."""
        res = self._open("GET", f"/containers/{quote(container)}/export", stream=True)
        return Stream(res, res.chunks())

    # -- archives (what compose.engine.archive needs: docker-py has no call for the stat alone, nor copyUIDGID)
    def archive_head(self, container: str, path: str) -> tuple[int, str | None]:
        """``(status, the X-Docker-Container-Path-Stat header)`` of ``HEAD /containers/{id}/archive``; a 404
        (no such path) is returned, not raised."""
        target = self._target(f"/containers/{quote(container)}/archive", {"path": path})
        res = request(self.path, "HEAD", target, timeout=self.timeout)
        res.close()  # a HEAD answer has no body, whatever its Content-Length says
        if res.status >= 400 and res.status != 404:
            raise APIError(res.status, f"HEAD {path}: status {res.status}")
        return res.status, res.headers.get("x-docker-container-path-stat")

    def archive_get(self, container: str, path: str) -> tuple["Stream", str | None]:
        """A tar stream of ``path`` and its stat header (``GET /containers/{id}/archive``)."""
        res = self._open("GET", f"/containers/{quote(container)}/archive", {"path": path}, stream=True)
        return Stream(res, res.chunks()), res.headers.get("x-docker-container-path-stat")

    def archive_put(self, container: str, path: str, data: Any, *, copy_uid_gid: bool = False) -> None:
        """Extract the tar ``data`` (bytes or a binary file, streamed) into the directory ``path``."""
        params = {"path": path, "copyUIDGID": "1" if copy_uid_gid else None}
        if not isinstance(data, bytes):
            source = data
            data = iter(lambda: source.read(1 << 20), b"")
        target = self._target(f"/containers/{quote(container)}/archive", params)
        started = time.perf_counter()
        res = request(self.path, "PUT", target, data, headers={"Content-Type": "application/x-tar"},
                      timeout=self.timeout)
        if trace.enabled():
            trace.request("PUT", target, res.status, time.perf_counter() - started)
        if res.status >= 400:
            self._raise(res)
        res.read()

    # -- exec ------------------------------------------------------------------------------------------------
    def exec_create(self, container: str, cmd: str | list[str], stdout: bool = True, stderr: bool = True,
                    stdin: bool = False, tty: bool = False, privileged: bool = False, user: str = "",
                    environment: dict[str, str] | list[str] | None = None, workdir: str | None = None,
                    detach_keys: str | None = None) -> dict[str, Any]:
        if isinstance(cmd, str):
            import shlex

            cmd = shlex.split(cmd)
        if isinstance(environment, dict):
            environment = [f"{k}={v}" for k, v in environment.items()]
        body: dict[str, Any] = {"AttachStdin": stdin, "AttachStdout": stdout, "AttachStderr": stderr, "Cmd": cmd,
                                "Privileged": privileged, "Tty": tty, "User": user, "Env": environment}
        if workdir:
            body["WorkingDir"] = workdir
        if detach_keys:
            body["DetachKeys"] = detach_keys
        return self._json("POST", f"/containers/{quote(container)}/exec", body=body) or {}

    def exec_start(self, exec_id: str, detach: bool = False, tty: bool = False, stream: bool = False,
                   socket: bool = False, demux: bool = False) -> Any:
        """``detach``: started, nothing returned; ``socket``: the hijacked connection's socket (the caller
        reads the stream); otherwise the whole output, as one bytes."""
        body = {"Tty": tty, "Detach": detach}
        if detach:
            self._call("POST", f"/exec/{quote(exec_id)}/start", body=body)
            return b""
        target = self._target(f"/exec/{quote(exec_id)}/start")
        res = hijack(self.path, "POST", target, json.dumps(body).encode())
        if res.status >= 400:
            self._raise(res)
        if socket:
            return res.sock
        chunks = res.chunks() if tty else (payload for _, payload in _demux(res.chunks()))
        return chunks if stream else b"".join(chunks)

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        return self._json("GET", f"/exec/{quote(exec_id)}/json") or {}

    # -- images ----------------------------------------------------------------------------------------------
    def images(self, name: str | None = None, quiet: bool = False, all: bool = False,
               filters: dict[str, Any] | None = None) -> list[Any]:
        wanted = dict(filters or {})
        if name:
            wanted["reference"] = name
        params = {"all": 1 if all else 0, "filters": convert_filters(wanted) if wanted else None}
        found = self._json("GET", "/images/json", params) or []
        return [i["Id"] for i in found] if quiet else found

    def inspect_image(self, image: str) -> dict[str, Any]:
        return self._json("GET", f"/images/{quote(image, safe='/:@')}/json") or {}

    # -- everything else: docker-py ------------------------------------------------------------------------
    def full(self) -> Any:
        """The docker-py client for the same engine, made on first use."""
        with self._full_lock:
            if self._full is None:
                from compose.engine.client import connect

                self._full = connect(self.base_url)
            return self._full

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_full", "_full_lock", "path", "base_url", "timeout"):
            raise AttributeError(name)
        return getattr(self.full(), name)


class Stream:
    """A streamed answer's items; ``close()`` (from any thread, as docker-py's ``CancellableStream``) ends the
    connection, so that a reader blocked in it sees the end."""

    def __init__(self, res: Response, items: Iterator[Any]) -> None:
        self._res = res
        self._items = items

    def __iter__(self) -> "Stream":
        return self

    def __next__(self) -> Any:
        return next(self._items)

    def iter_content(self, chunk_size: int = 0) -> Iterator[Any]:
        """As a requests response's (the chunks as they come, whatever ``chunk_size``)."""
        return self._items

    def close(self) -> None:
        import socket

        try:
            self._res.sock.shutdown(socket.SHUT_RDWR)  # not close(): another thread may be reading from it
        except OSError:
            pass
        try:
            self._items.close()  # type: ignore[attr-defined]
        except (ValueError, AttributeError):  # another thread is in it (it sees the end now), or a plain iterator
            return
        self._res.close()


def _json_stream(chunks: Iterator[bytes], *, decode: bool) -> Iterator[Any]:
    """Concatenated JSON documents (newlines between them or not), one at a time as they arrive."""
    decoder = json.JSONDecoder()
    text = ""
    for chunk in chunks:
        text += chunk.decode("utf-8", "replace")
        while True:
            text = text.lstrip()
            if not text:
                break
            try:
                value, end = decoder.raw_decode(text)
            except ValueError:
                break  # an incomplete document: wait for more
            yield value if decode else text[:end].encode()
            text = text[end:]
