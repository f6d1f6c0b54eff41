"""The daemon answers /_ping, /version, /info like Docker, maps errors to Docker's statuses, and survives junk."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from tests.runtime.daemon.conftest import REPO, cleanup, start_daemon


def _raw(sock, data: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(sock))
        s.sendall(data)
        chunks = []
        while True:
            got = s.recv(65536)
            if not got:
                break
            chunks.append(got)
    return b"".join(chunks)


def test_ping_head_and_version_prefix(daemon):
    reply = _raw(daemon.sock, b"HEAD /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head = reply.decode()
    assert head.startswith("HTTP/1.1 200")
    assert "API-Version: 1.47" in head and head.endswith("\r\n\r\n")
    reply = _raw(daemon.sock, b"GET /v1.41/_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert reply.endswith(b"\r\n\r\nOK")
    reply = _raw(daemon.sock, b"GET /v1.99/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400") and b"too new" in reply


def test_docker_py_version_and_info(daemon):
    client = daemon.client()
    version = client.version()
    assert version["ApiVersion"] == "1.47" and version["Os"] == "linux"
    info = client.info()
    assert info["DockerRootDir"] == str(daemon.root)
    assert info["Containers"] == 0 and info["OSType"] == "linux"
    # the host's real cgroup and security features, not fixed values
    v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    assert info["CgroupVersion"] == ("2" if v2 else "1")
    assert info["PidsLimit"] == (os.path.exists("/sys/fs/cgroup/pids") or v2 and "pids" in open(
        "/sys/fs/cgroup/cgroup.controllers").read().split())
    assert ("name=cgroupns" in info["SecurityOptions"]) == os.path.exists("/proc/self/ns/cgroup")
    assert info["IPv4Forwarding"] == (open("/proc/sys/net/ipv4/ip_forward").read().strip() == "1")


def test_docker_cli_negotiates_version(daemon):
    out = daemon.cli("version", "--format", "{{.Client.APIVersion}} {{.Server.APIVersion}}").stdout.split()
    assert out == ["1.47", "1.47"]
    info = daemon.cli("info", "--format", "{{json .}}").stdout
    assert json.loads(info)["DockerRootDir"] == str(daemon.root)


def test_bad_requests_get_4xx_and_daemon_keeps_serving(daemon):
    assert _raw(daemon.sock, b"garbage\r\n\r\n").startswith(b"HTTP/1.1 400")
    body = b"{not json"
    reply = _raw(daemon.sock, b"POST /volumes/create HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    assert reply.startswith(b"HTTP/1.1 400")
    assert b"malformed JSON" in reply
    reply = _raw(daemon.sock, b"GET /no/such/thing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 404")
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["message"]
    assert daemon.client().ping() is True


def test_keep_alive_and_chunked_request_body(daemon):
    body = json.dumps({"Name": "chunky"}).encode()
    req = (b"POST /volumes/create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    req += b"GET /volumes/chunky HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    reply = _raw(daemon.sock, req)
    assert reply.count(b"HTTP/1.1 ") == 2
    assert reply.startswith(b"HTTP/1.1 201") and b"HTTP/1.1 200" in reply


def test_bad_config_refused_naming_the_key(tmp_path):
    cfg = tmp_path / "engine.json"
    for raw, key in (({"default-address-pools": [{"base": "10.0.0.0/33", "size": 24}]},
                      "default-address-pools[0].base"),
                     ({"log-opts": {"max-size": "ten"}}, "log-opts.max-size"),
                     ({"dns": ["not-an-ip"]}, "dns"),
                     ({"bogus": 1}, "bogus")):
        cfg.write_text(json.dumps(raw))
        out = subprocess.run([sys.executable, "-m", "runtime.daemon", "--config", str(cfg), "--host",
                              f"unix://{tmp_path}/s.sock", "--data-root", str(tmp_path / "root")],
                             cwd=REPO, capture_output=True, text=True, timeout=30)
        assert out.returncode == 1, out.stderr
        assert key in out.stderr and "Traceback" not in out.stderr


def test_config_values_reach_info(tmp_path):
    d = start_daemon(tmp_path / "e", config={"registry-mirrors": ["http://127.0.0.1:5999"],
                                             "default-address-pools": [{"base": "10.99.0.0/16", "size": 24}]})
    try:
        info = d.client().info()
        assert info["RegistryConfig"]["Mirrors"] == ["http://127.0.0.1:5999"]
        assert info["DefaultAddressPools"] == [{"Base": "10.99.0.0/16", "Size": 24}]
    finally:
        cleanup(d)


def test_socket_mode(daemon):
    import os
    import stat

    assert stat.S_IMODE(os.stat(daemon.sock).st_mode) == 0o660


def test_second_engine_is_refused_and_leaves_the_first_alone(daemon, tmp_path):
    same_socket = subprocess.run([sys.executable, "-m", "runtime.daemon", "--host", daemon.url, "--data-root",
                                  str(tmp_path / "other-root"), "--config", str(daemon.config)],
                                 cwd=REPO, capture_output=True, text=True, timeout=60)
    assert same_socket.returncode == 1 and "already listening" in same_socket.stderr
    same_root = subprocess.run([sys.executable, "-m", "runtime.daemon", "--host", f"unix://{tmp_path}/b.sock",
                                "--data-root", str(daemon.root), "--config", str(daemon.config)],
                               cwd=REPO, capture_output=True, text=True, timeout=60)
    assert same_root.returncode == 1 and "another engine is running" in same_root.stderr
    assert daemon.client().ping()


def test_expect_continue_upload_with_curl(daemon, tmp_path):
    import shutil

    if shutil.which("curl") is None:
        import pytest

        pytest.skip("curl is not installed")
    body = tmp_path / "vol.json"
    body.write_text(json.dumps({"Name": "curled", "Labels": {"pad": "x" * 4096}}))
    out = subprocess.run(["curl", "-sS", "--unix-socket", str(daemon.sock), "-H", "Content-Type: application/json",
                          "-H", "Expect: 100-continue", "--data-binary", f"@{body}",
                          "http://localhost/v1.44/volumes/create"], capture_output=True, text=True, timeout=30)
    assert json.loads(out.stdout)["Name"] == "curled"


def test_daemon_raises_its_open_files_limit_to_the_hard_limit(tmp_path):
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip("hard open files limit too low to test")
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))  # the daemon inherits a low soft limit
    try:
        d = start_daemon(tmp_path / "engine")
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        limits = [line for line in open(f"/proc/{d.proc.pid}/limits") if line.startswith("Max open files")][0]
        assert int(limits.split()[3]) > 256, limits
    finally:
        cleanup(d)
