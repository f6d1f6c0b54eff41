"""Limits enforced by the real kernel: OOM kill (counted and signalled), pids limit, CPU and cpuset files."""
from __future__ import annotations

import errno
import os
import select
import signal

import pytest

from runtime.cgroups.base import Resources

pytestmark = pytest.mark.root

MB = 1024 * 1024
ALLOCATE = "data = b'\\x01' * (256 * 1024 * 1024)\nprint('survived', flush=True)\n"
FORK = """
import os
r, w = os.pipe()
kids, err = [], None
for _ in range(16):
    try:
        pid = os.fork()
    except OSError as e:
        err = e.errno
        break
    if pid == 0:
        os.close(w)
        os.read(r, 1)
        os._exit(0)
    kids.append(pid)
os.close(w)
for k in kids:
    os.waitpid(k, 0)
print(len(kids), err, flush=True)
"""


def _needs(manager, ctrl: str) -> None:
    if manager.version == 2 and ctrl not in manager.available_controllers():
        pytest.skip(f"the {ctrl} controller is not available in this host's cgroup2 hierarchy "
                    f"({manager.root}: cgroup.controllers lacks it; hybrid host keeps it on v1)")


def test_memory_limit_oom_kills_and_reports(manager, park):
    _needs(manager, "memory")
    assert manager.apply(Resources(memory=32 * MB, memory_swap=32 * MB)) == []
    p = park(ALLOCATE)
    manager.add(p.pid)
    with manager.oom_watch() as watch:
        assert not watch.drain()
        p.go()
        rc, out = p.wait()
        assert rc == -signal.SIGKILL, out
        assert "survived" not in out
        assert select.select([watch], [], [], 10)[0], "no OOM event on the watch fd"
        assert watch.drain()
    assert manager.oom_kill_count() >= 1
    stats = manager.stats()["memory_stats"]
    assert stats["limit"] == 32 * MB
    if manager.version == 1:
        assert stats["max_usage"] >= 30 * MB


def test_memory_within_limit_survives(manager, park):
    _needs(manager, "memory")
    manager.apply(Resources(memory=128 * MB))
    p = park("data = b'\\x01' * (24 * 1024 * 1024)\nprint('survived', flush=True)\ninput()\n")
    manager.add(p.pid)
    p.go()
    assert p.proc.stdout.readline() == "survived\n"
    usage = manager.stats()["memory_stats"]["usage"]
    assert 24 * MB <= usage <= 128 * MB
    assert manager.oom_kill_count() == 0


def test_memory_files_written(manager):
    _needs(manager, "memory")
    manager.apply(Resources(memory=64 * MB, memory_reservation=32 * MB, memory_swap=96 * MB))
    if manager.version == 1:
        mem = manager.paths()["memory"]
        assert int((mem / "memory.limit_in_bytes").read_text()) == 64 * MB
        assert int((mem / "memory.soft_limit_in_bytes").read_text()) == 32 * MB
        if (mem / "memory.memsw.limit_in_bytes").exists():
            assert int((mem / "memory.memsw.limit_in_bytes").read_text()) == 96 * MB
        # growing past the current memory+swap limit: memsw must be raised first, the manager orders it
        manager.apply(Resources(memory=200 * MB, memory_swap=300 * MB))
        assert int((mem / "memory.limit_in_bytes").read_text()) == 200 * MB
    else:
        assert (manager.path / "memory.max").read_text().strip() == str(64 * MB)
        assert (manager.path / "memory.low").read_text().strip() == str(32 * MB)


def test_pids_limit_makes_fork_fail(manager, park):
    _needs(manager, "pids")
    assert manager.apply(Resources(pids_limit=4)) == []
    p = park(FORK)
    manager.add(p.pid)
    p.go()
    rc, out = p.wait()
    assert rc == 0
    forked, err = out.split()
    assert forked == "3"  # the parent itself is the 4th
    assert err == str(errno.EAGAIN)
    assert manager.stats()["pids_stats"]["limit"] == 4


def test_cpu_quota_and_shares_written(manager):
    _needs(manager, "cpu")
    assert manager.apply(Resources(nano_cpus=500_000_000, cpu_shares=512)) == []
    if manager.version == 1:
        cpu = manager.paths()["cpu"]
        assert (cpu / "cpu.cfs_quota_us").read_text().strip() == "50000"
        assert (cpu / "cpu.cfs_period_us").read_text().strip() == "100000"
        assert (cpu / "cpu.shares").read_text().strip() == "512"
    else:
        assert (manager.path / "cpu.max").read_text().split() == ["50000", "100000"]
        assert (manager.path / "cpu.weight").read_text().strip() == "20"


def test_cpu_quota_with_explicit_period(manager):
    _needs(manager, "cpu")
    manager.apply(Resources(cpu_quota=25000, cpu_period=50000))
    if manager.version == 1:
        cpu = manager.paths()["cpu"]
        assert (cpu / "cpu.cfs_quota_us").read_text().strip() == "25000"
        assert (cpu / "cpu.cfs_period_us").read_text().strip() == "50000"
    else:
        assert (manager.path / "cpu.max").read_text().split() == ["25000", "50000"]


def test_cpuset_written(manager):
    _needs(manager, "cpuset")
    manager.apply(Resources(cpuset_cpus="0", cpuset_mems="0"))
    d = manager.paths()["cpuset"] if manager.version == 1 else manager.path
    assert (d / "cpuset.cpus").read_text().strip() == "0"
    assert (d / "cpuset.mems").read_text().strip() == "0"


def test_unavailable_cpus_are_refused_as_docker_does(manager):
    from runtime.errors import InvalidArgument
    with pytest.raises(InvalidArgument, match="Requested CPUs are not available - requested 4095"):
        manager.apply(Resources(cpuset_cpus="4095"))


def test_kernel_refusal_is_a_typed_error(manager):
    from runtime.cgroups.fs import write_text
    from runtime.errors import InvalidArgument
    _needs(manager, "pids")
    d = manager.paths()["pids"] if manager.version == 1 else manager.path
    with pytest.raises(InvalidArgument, match="pids.max"):
        write_text(d / "pids.max", "many")


def test_v2_missing_controllers_become_warnings(manager):
    if manager.version != 2 or "memory" in manager.available_controllers():
        pytest.skip("needs a cgroup2 hierarchy without the memory controller (hybrid host)")
    warnings = manager.apply(Resources(memory=64 * MB))
    assert warnings and "memory" in warnings[0]


def test_v1_blkio_weight_swappiness_and_oom_kill_disable(manager):
    if manager.version != 1:
        pytest.skip("v1 files: blkio weight, swappiness, oom_kill_disable (v2 warns and discards the last two)")
    warnings = manager.apply(Resources(blkio_weight=300, memory_swappiness=10, oom_kill_disable=True))
    blkio = manager.paths()["blkio"]
    weight_files = [blkio / f for f in ("blkio.weight", "blkio.bfq.weight") if (blkio / f).exists()]
    if weight_files:
        assert weight_files[0].read_text().split()[-1] == "300"
        assert warnings == []
    else:
        assert any("Block I/O weight" in w for w in warnings)
    mem = manager.paths()["memory"]
    assert (mem / "memory.swappiness").read_text().strip() == "10"
    assert "oom_kill_disable 1" in (mem / "memory.oom_control").read_text()


def test_v2_warns_for_what_it_cannot_do(manager):
    if manager.version != 2:
        pytest.skip("v2 only")
    warnings = manager.apply(Resources(memory_swappiness=10, oom_kill_disable=True))
    assert any("swappiness" in w for w in warnings)
    assert any("oom_kill_disable" in w for w in warnings)


def _block_device() -> str:
    import stat as st
    for name in sorted(os.listdir("/sys/block")):
        path = f"/dev/{name}"
        if not name.startswith(("loop", "ram", "zram")) and os.path.exists(path) \
                and st.S_ISBLK(os.stat(path).st_mode):
            return path
    pytest.skip("no real block device node under /dev to name in a throttle")


def test_per_device_throttles_written(manager):
    _needs(manager, "io" if manager.version == 2 else "blkio")
    dev = _block_device()
    rdev = os.stat(dev).st_rdev
    num = f"{os.major(rdev)}:{os.minor(rdev)}"
    warnings = manager.apply(Resources(blkio_read_bps=((dev, 1048576),), blkio_write_iops=((num, 100),)))
    if manager.version == 1:
        assert warnings == []
        blkio = manager.paths()["blkio"]
        assert (blkio / "blkio.throttle.read_bps_device").read_text().split() == [num, "1048576"]
        assert (blkio / "blkio.throttle.write_iops_device").read_text().split() == [num, "100"]
    else:
        line = next(x for x in (manager.path / "io.max").read_text().splitlines() if x.startswith(num))
        assert "rbps=1048576" in line and "wiops=100" in line


def test_cpu_quota_throttles_a_busy_process(manager, park):
    """A process that burns 60 ms of CPU under a 10 ms / 100 ms quota must be throttled by the kernel."""
    _needs(manager, "cpu")
    manager.apply(Resources(cpu_quota=10_000, cpu_period=100_000))
    p = park("import time\nwhile time.process_time() < 0.06:\n    pass\nprint('done', flush=True)\n")
    manager.add(p.pid)
    p.go()
    rc, out = p.wait()
    assert rc == 0 and out == "done\n"
    throttling = manager.stats()["cpu_stats"]["throttling_data"]
    assert throttling["throttled_periods"] >= 1
    assert throttling["throttled_time"] > 0
