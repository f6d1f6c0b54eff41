"""Device access control on the real kernel: v1 devices.allow/deny and the v2 eBPF device filter."""
from __future__ import annotations

import errno
import os
import stat

import pytest

from runtime.cgroups.devices import (
    ALLOW_ALL, DEFAULT_DEVICES, DeviceRule, build_program, device_rule_for, parse_rule, v1_lines,
)
from runtime.errors import InvalidArgument

PROBE = """
import os, sys, json
out = {}
for name in sys.argv[1:]:
    try:
        os.close(os.open(name, os.O_RDONLY | os.O_NONBLOCK))
        out[name] = 0
    except OSError as e:
        out[name] = e.errno
print(json.dumps(out), flush=True)
"""


def test_parse_and_render_rules():
    assert parse_rule("c 1:3 rwm") == DeviceRule("c", 1, 3, "rwm")
    assert parse_rule("b *:* m") == DeviceRule("b", -1, -1, "m")
    assert parse_rule("a") == DeviceRule("a")
    assert DeviceRule("c", 136, -1, "rw").v1() == "c 136:* rw"
    for bad in ("x 1:3 rwm", "c 1 rwm", "c a:b rwm", "c 1:3 rwx", ""):
        with pytest.raises(InvalidArgument):
            parse_rule(bad)


def test_v1_lines_deny_first():
    lines = v1_lines(DEFAULT_DEVICES)
    assert lines[0] == ("devices.deny", "a")
    assert ("devices.allow", "c 1:3 rwm") in lines and ("devices.allow", "c *:* m") in lines


def test_program_shape():
    prog = build_program(DEFAULT_DEVICES)
    assert len(prog) % 8 == 0
    assert prog[-8] == 0x95  # ends with exit
    assert len(build_program(())) == 8 * 8  # header (6) + default deny (2)


def test_device_policy():
    from runtime.cgroups.devices import device_policy
    assert device_policy(privileged=True) == ALLOW_ALL
    assert device_policy() == DEFAULT_DEVICES
    got = device_policy(devices=[("/dev/null", "r")], cgroup_rules=["c 10:229 rwm"])
    assert got[-2:] == (DeviceRule("c", 1, 3, "r"), DeviceRule("c", 10, 229, "rwm"))
    with pytest.raises(InvalidArgument, match="custom device"):
        device_policy(devices=[("/dev/no-such-device", "rwm")])


def test_rule_for_a_device_node():
    assert device_rule_for("/dev/null") == DeviceRule("c", 1, 3, "rwm")
    with pytest.raises(InvalidArgument):
        device_rule_for("/etc/hostname")




@pytest.mark.root
@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize(("devices", "kmsg_errno"), [
    (DEFAULT_DEVICES, errno.EPERM),
    (ALLOW_ALL, 0),
    (ALLOW_ALL + (DeviceRule("c", 1, 11, "rwm", allow=False),), errno.EPERM),  # the last matching rule wins
    (DEFAULT_DEVICES + (DeviceRule("c", 1, 11, "r"),), 0),  # like `devices: [/dev/kmsg:/dev/kmsg:r]`
])
def test_device_policy_decides_what_opens(version, devices, kmsg_errno, uncreated_manager, tmp_path):
    import json
    import subprocess
    import sys
    mgr = uncreated_manager(version)
    mgr.create(devices=devices)
    kmsg = tmp_path / "kmsg"
    os.mknod(kmsg, 0o600 | stat.S_IFCHR, os.makedev(1, 11))  # /dev/kmsg: harmless to open read-only
    r, w = os.pipe()
    script = "import os\nos.read(%d, 1)\n" % r + PROBE
    proc = subprocess.Popen([sys.executable, "-c", script, "/dev/null", "/dev/zero", str(kmsg)],
                            stdout=subprocess.PIPE, text=True, pass_fds=(r,))
    try:
        os.close(r)
        mgr.add(proc.pid)
        os.write(w, b"g")
        out, _ = proc.communicate(timeout=30)
    finally:
        os.close(w)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    got = json.loads(out)
    assert got["/dev/null"] == 0 and got["/dev/zero"] == 0
    assert got[str(kmsg)] == kmsg_errno
    # the test process itself (outside the cgroup) is not restricted
    os.close(os.open(kmsg, os.O_RDONLY | os.O_NONBLOCK))


@pytest.mark.root
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_mknod_stays_allowed_by_default(version, uncreated_manager, tmp_path):
    import subprocess
    import sys
    mgr = uncreated_manager(version)
    mgr.create()
    r, w = os.pipe()
    node = tmp_path / "node"
    script = ("import os, stat\nos.read(%d, 1)\nos.mknod(%r, 0o600 | stat.S_IFCHR, os.makedev(1, 11))\n"
              % (r, str(node)))
    proc = subprocess.Popen([sys.executable, "-c", script], pass_fds=(r,))
    try:
        os.close(r)
        mgr.add(proc.pid)
        os.write(w, b"g")
        assert proc.wait(timeout=30) == 0
    finally:
        os.close(w)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert stat.S_ISCHR(node.stat().st_mode)
