"""Devices, device cgroup rules, group_add and block I/O limits through the API (docker CLI flags): in the
container's spec, in its cgroup, and refused at create when wrong."""
from __future__ import annotations

import json

import docker

import pytest

pytestmark = pytest.mark.root

_OPEN_1_2 = "mknod /n c 1 2; dd if=/n of=/dev/null bs=1 count=0 2>&1; true"  # c 1:2: no default rule allows it


def test_a_device_is_mapped_and_usable(engine):
    out = engine.cli("run", "--rm", "--network", "none", "--device", "/dev/zero:/dev/zz:r", "busybox", "sh", "-c",
                     "ls -l /dev/zz; head -c 5 /dev/zz | wc -c").stdout
    assert out.split("\n")[0].startswith("c") and out.split()[-1] == "5"


def test_device_cgroup_rule_allows_what_the_defaults_deny(engine):
    denied = engine.cli("run", "--rm", "--network", "none", "busybox", "sh", "-c", _OPEN_1_2).stdout
    assert "Operation not permitted" in denied
    allowed = engine.cli("run", "--rm", "--network", "none", "--device-cgroup-rule", "c 1:2 r", "busybox", "sh",
                         "-c", _OPEN_1_2).stdout
    assert "Operation not permitted" not in allowed  # the driver answers now (no such device), not the cgroup


def test_privileged_reaches_host_devices(engine):
    out = engine.cli("run", "--rm", "--network", "none", "--privileged", "busybox", "sh", "-c", _OPEN_1_2).stdout
    assert "Operation not permitted" not in out


def test_bad_devices_and_rules_fail_at_create(engine):
    missing = engine.cli("create", "--device", "/dev/no-such-device-here", "busybox", check=False)
    assert missing.returncode != 0 and "no-such-device-here" in missing.stderr
    with pytest.raises(docker.errors.APIError, match="device cgroup rule"):  # the CLI checks it too: the API here
        engine.client().containers.create("busybox", device_cgroup_rules=["x 1:2 r"])
    swappiness = engine.cli("create", "--memory-swappiness", "101", "busybox", check=False)
    assert swappiness.returncode != 0 and "swappiness" in swappiness.stderr
    assert engine.cli("ps", "-aq").stdout == ""  # nothing was created


def _block_device() -> str | None:
    import os
    import stat

    for name in sorted(os.listdir("/sys/block")):
        path = f"/dev/{name}"
        if os.path.exists(path) and stat.S_ISBLK(os.stat(path).st_mode):
            return path
    return None


def test_group_add_and_io_limits_are_kept_without_warnings(engine):
    not_block = engine.cli("create", "--device-read-bps", "/dev/zero:1mb", "busybox", check=False)
    assert not_block.returncode != 0 and "not a block device" in not_block.stderr  # at create, not at start
    device = _block_device()
    if device is None:
        pytest.skip("no block device on this host")
    created = engine.cli("create", "--name", "io", "--network", "none", "--group-add", "1234",
                         "--device-read-bps", f"{device}:1mb", "busybox", "id", "-G")
    assert "not supported" not in created.stderr
    host = json.loads(engine.cli("inspect", "io").stdout)[0]["HostConfig"]
    assert host["BlkioDeviceReadBps"] == [{"Path": device, "Rate": 1 << 20}]
    out = engine.cli("start", "-a", "io")
    assert "1234" in out.stdout.split()
