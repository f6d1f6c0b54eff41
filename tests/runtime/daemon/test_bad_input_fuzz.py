"""Junk bodies and parameters never get a 500 nor disturb the daemon: every answer is a 2xx or a 4xx with a
Docker-style {"message": ...}."""
from __future__ import annotations

import http.client
import json
import socket

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

pytestmark = pytest.mark.root

_json = st.recursive(st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.text(max_size=12),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                  max_size=3), max_leaves=8)
_KEYS = ["Image", "Cmd", "Entrypoint", "Env", "Labels", "HostConfig", "NetworkingConfig", "Healthcheck", "User",
         "WorkingDir", "StopSignal", "ExposedPorts", "Volumes", "Tty", "StopTimeout"]
_HOST_KEYS = ["Binds", "Mounts", "PortBindings", "RestartPolicy", "Memory", "NetworkMode", "Tmpfs", "Ulimits",
              "LogConfig", "SecurityOpt", "CapAdd", "ExtraHosts", "Dns", "ShmSize", "AutoRemove", "Sysctls"]


def _body(draw_value: st.SearchStrategy) -> st.SearchStrategy:
    host = st.dictionaries(st.sampled_from(_HOST_KEYS), draw_value, max_size=4)
    return st.fixed_dictionaries({"Image": st.just("busybox")}, optional={
        **{k: draw_value for k in _KEYS if k not in ("Image", "HostConfig")}, "HostConfig": host})


class _Conn(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=30)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(30)
        self.sock.connect(self._path)


def _call(daemon, method: str, url: str, body: object) -> tuple[int, bytes]:
    conn = _Conn(str(daemon.sock))
    try:
        conn.request(method, url, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=_body(_json), name=st.one_of(st.none(), st.text(max_size=10)))
def test_container_create_junk(engine, body, name):
    from urllib.parse import quote

    url = "/v1.44/containers/create" + (f"?name={quote(name)}" if name is not None else "")
    status, data = _call(engine, "POST", url, body)
    assert status < 500, (status, data, body)
    if status >= 400:
        assert json.loads(data)["message"]
    else:
        cid = json.loads(data)["Id"]
        assert _call(engine, "DELETE", f"/containers/{cid}?force=1&v=1", None)[0] == 204


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from(["/volumes/create", "/networks/create", "/containers/nope/exec", "/images/create",
                             "/containers/nope/update", "/networks/nope/connect"]), body=_json)
def test_other_endpoints_junk(engine, path, body):
    status, data = _call(engine, "POST", path, body)
    assert status < 500, (status, data, body)
    if status >= 400:
        assert json.loads(data)["message"]
    assert engine.client().ping()
