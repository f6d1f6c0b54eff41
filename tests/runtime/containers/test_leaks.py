"""200 create/start/stop/remove cycles leave mounts, cgroups and processes under the test's root as they were."""
from __future__ import annotations

import os
import time

import pytest

from runtime.spec import ContainerSpec, Mount, Resources
from tests.runtime.containers.helpers import cgroup_dirs, mounts_under, processes_mentioning

pytestmark = pytest.mark.root

CYCLES = 200


def _children(pid: int) -> set[int]:
    out = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            if int(data[data.rindex(b")") + 2:].split()[1]) == pid:
                out.add(int(entry.name))
    return out


@pytest.mark.timeout(120)
def test_200_cycles_leave_nothing_behind(svc, rootfs, tmp_path, cgroup_parent):
    vol = tmp_path / "vol"
    vol.mkdir()
    spec = ContainerSpec(args=("sleep", "100"), rootfs=rootfs, stop_timeout=0, resources=Resources(memory=64 << 20),
                         mounts=(Mount("volume", "/data", str(vol)), Mount("tmpfs", "/tmp")))
    svc.create("warmup", spec)
    svc.start("warmup")
    svc.remove("warmup", force=True)
    children_before = _children(os.getpid())
    for i in range(CYCLES):
        cid = svc.create(f"c{i}", spec)
        svc.start(cid)
        assert svc.inspect(cid).status == "running"
        assert svc.stop(cid) == 137
        svc.remove(cid)
    assert svc.list() == []
    svc.close()  # waits for the background deletion of removed containers' files
    assert mounts_under(str(tmp_path)) == []
    assert cgroup_dirs(cgroup_parent) == []
    assert processes_mentioning(str(tmp_path)) == []
    assert _children(os.getpid()) <= children_before  # the fork server was the only child; now closed
    assert sorted(os.listdir(tmp_path / "root" / "containers")) == [".names", ".trash", "monitors.log"]
    assert (tmp_path / "root" / "containers" / "monitors.log").read_text() == ""  # no monitor complained
    assert os.listdir(tmp_path / "root" / "containers" / ".trash") == []
    assert os.listdir(tmp_path / "root" / "containers" / ".names") == []


@pytest.mark.parametrize("monitor", ["c", "python"])
def test_an_exited_container_keeps_no_cgroup_and_a_restart_makes_it_again(tmp_path, rootfs, cgroup_parent,
                                                                         monkeypatch, monitor):
    """The cgroup goes with the container's processes (as with runc), so a container that is never removed
    (an engine whose data root was deleted) leaves no empty cgroup behind; a start makes it again."""
    from runtime.containers import ContainerService

    if monitor == "python":
        monkeypatch.setenv("PYCOMPOSE_PYTHON_MONITOR", "1")
    svc = ContainerService(tmp_path / "root", cgroup_parent=cgroup_parent)
    try:
        cid = svc.create(None, ContainerSpec(args=("sh", "-c", "exit 4"), rootfs=rootfs,
                                             resources=Resources(pids_limit=40)))
        for _ in range(2):
            svc.start(cid)
            assert svc.wait(cid, 30) == 4
            assert cgroup_dirs(cgroup_parent) == []
        live = svc.create(None, ContainerSpec(args=("sleep", "100"), rootfs=rootfs, stop_timeout=0,
                                              resources=Resources(pids_limit=40)))
        svc.start(live)
        assert any(d.endswith(live) for d in cgroup_dirs(cgroup_parent))
        assert svc.stop(live) == 137
        assert cgroup_dirs(cgroup_parent) == []
    finally:
        for state in svc.list():
            svc.remove(state.id, force=True)
        svc.close()


def test_remove_after_the_monitor_died_leaves_nothing(svc, rootfs, tmp_path, cgroup_parent):
    import json
    import signal

    cid = svc.create(None, ContainerSpec(args=("sleep", "100"), rootfs=rootfs, stop_timeout=0,
                                         mounts=(Mount("tmpfs", "/tmp"),)))
    svc.start(cid)
    st = json.loads((svc.dir / cid / "state.json").read_text())
    os.kill(st["monitor_pid"], signal.SIGKILL)  # the container's init dies with it (PDEATHSIG)
    deadline = time.monotonic() + 10
    while svc.inspect(cid).status != "exited":  # polling for the kill to land, with a deadline
        assert time.monotonic() < deadline, "the monitor did not die"
        time.sleep(0.01)
    svc.remove(cid)
    svc.close()
    assert cgroup_dirs(cgroup_parent) == []
    assert mounts_under(str(tmp_path)) == []
    assert processes_mentioning(str(tmp_path)) == []
