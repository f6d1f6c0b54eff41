"""The daemon's start path through the API: the network is connected while the monitor spawns the init, yet the
program sees it from its first instruction; a start refused during the network set-up leaves the container
created, with nothing running, and a later start works."""
from __future__ import annotations

import socket

import docker
import pytest

pytestmark = pytest.mark.root


def test_bridge_interface_and_its_sysctls_are_there_before_the_program_runs(engine):
    client = engine.client()
    c = client.containers.run(
        "busybox", ["sh", "-c", "cat /proc/sys/net/ipv4/conf/eth0/accept_local; ip -o -4 addr show eth0"],
        network_mode="bridge", sysctls={"net.ipv4.conf.eth0.accept_local": "1"}, detach=True)
    try:
        assert c.wait(timeout=60)["StatusCode"] == 0, c.logs()
        first, second = c.logs().decode().splitlines()[:2]
        assert first == "1"  # the per-interface sysctl was applied: eth0 existed before the sysctls
        assert "inet " in second  # and had its address when the program started
    finally:
        c.remove(force=True)


def test_start_refused_in_network_setup_leaves_it_created_and_a_later_start_works(engine):
    client = engine.client()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        c = client.containers.create("busybox", ["sleep", "100"], ports={"80/tcp": ("127.0.0.1", port)})
        with pytest.raises(docker.errors.APIError, match="already allocated"):
            c.start()
        c.reload()
        assert c.status == "created"
        assert c.attrs["State"]["Pid"] == 0
        assert not any(f"/{c.id}/" in line for line in open("/proc/self/mountinfo"))
    c.start()  # the port is free now
    c.reload()
    assert c.status == "running"
    c.remove(force=True)
