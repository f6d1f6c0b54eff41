"""Pure unit conversions and checks shared by v1 and v2 (runc's formulas, Docker's rules)."""
from __future__ import annotations

import pytest

from runtime.cgroups.convert import (
    blkio_weight_to_io_weight, check_resources, cpus_to_quota, effective_memory_swap, memswap_to_v2_swap,
    quota_period, resources_from, shares_to_weight, throttles,
)
from runtime.errors import InvalidArgument
from runtime.resources import Resources

MB = 1024 * 1024


@pytest.mark.parametrize(("shares", "weight"), [(0, 0), (2, 1), (1024, 39), (262144, 10000), (1, 1),
                                                 (10**7, 10000)])
def test_shares_to_weight(shares, weight):
    assert shares_to_weight(shares) == weight


@pytest.mark.parametrize(("blkio", "io"), [(0, 0), (10, 1), (500, 4950), (1000, 10000)])
def test_blkio_weight_to_io_weight(blkio, io):
    assert blkio_weight_to_io_weight(blkio) == io


def test_cpus_to_quota():
    assert cpus_to_quota(1.5) == (150000, 100000)
    assert cpus_to_quota(0.5, 50000) == (25000, 50000)
    assert cpus_to_quota(0.001) == (1000, 100000)  # the kernel's minimum quota
    assert cpus_to_quota(0) == (-1, 100000)


def test_quota_period_from_nano_cpus_and_quota():
    assert quota_period(Resources(nano_cpus=750_000_000)) == (75000, 100000)
    assert quota_period(Resources(cpu_quota=30000, cpu_period=60000)) == (30000, 60000)
    assert quota_period(Resources()) == (-1, 100000)


def test_memswap_to_v2_swap():
    assert memswap_to_v2_swap(-1, 64 * MB) == "max"
    assert memswap_to_v2_swap(0, 64 * MB) is None
    assert memswap_to_v2_swap(96 * MB, 64 * MB) == str(32 * MB)


def test_docker_default_swap_is_as_much_again():
    assert effective_memory_swap(Resources(memory=64 * MB)) == 128 * MB
    assert effective_memory_swap(Resources(memory=64 * MB, memory_swap=-1)) == -1
    assert effective_memory_swap(Resources()) == 0


@pytest.mark.parametrize(("kw", "msg"), [
    ({"memory": 1024}, "Minimum memory limit"),
    ({"memory": 64 * MB, "memory_swap": 32 * MB}, "memoryswap limit should be larger"),
    ({"memory_swap": 32 * MB}, "always set the Memory limit"),
    ({"memory": 64 * MB, "memory_reservation": 128 * MB}, "memory reservation"),
    ({"nano_cpus": 1, "cpu_quota": 50000}, "Nano CPUs and CPU Period/Quota"),
    ({"cpu_period": 10}, "CPU cfs period"),
    ({"cpu_quota": 10}, "CPU cfs quota"),
    ({"blkio_weight": 5}, "blkio weight"),
    ({"nano_cpus": 1_000_000}, "Range of CPUs is from 0.01"),
    ({"nano_cpus": 10**12}, "Range of CPUs is from 0.01"),
    ({"memory_swappiness": 101}, "swappiness"),
])
def test_resources_reject_what_docker_rejects(kw, msg):
    with pytest.raises(InvalidArgument, match=msg):
        check_resources(Resources(**kw))
    with pytest.raises(InvalidArgument, match=msg):
        resources_from(kw)


def test_resources_from_any_object_with_the_same_names():
    class Spec:
        memory = 64 * MB
        nano_cpus = 500_000_000
        pids_limit = 10
        unrelated = "x"
    res = resources_from(Spec())
    assert (res.memory, res.nano_cpus, res.pids_limit, res.cpu_shares) == (64 * MB, 500_000_000, 10, 0)
    assert resources_from({"cpu_shares": 512}).cpu_shares == 512


def test_device_numbers_and_lines(tmp_path):
    from runtime.cgroups.blkio import device_number, v1_throttle_lines, v2_io_max_lines
    assert device_number("8:16") == "8:16"
    for bad in ("8:x", "/dev/null", str(tmp_path)):
        with pytest.raises(InvalidArgument):
            device_number(bad)
    limits = {"blkio_read_bps": [("8:0", 100)], "blkio_write_iops": [("8:0", 5), ("8:16", 7)]}
    assert v1_throttle_lines(limits) == [("blkio.throttle.read_bps_device", "8:0 100"),
                                         ("blkio.throttle.write_iops_device", "8:0 5"),
                                         ("blkio.throttle.write_iops_device", "8:16 7")]
    assert v2_io_max_lines(limits) == ["8:0 rbps=100 wiops=5", "8:16 wiops=7"]


def test_device_fields_accept_json_lists():
    res = resources_from({"blkio_read_bps": [["8:0", 100]], "blkio_weight_device": [["8:0", 300]]})
    assert res.blkio_read_bps == (("8:0", 100),)
    assert throttles(res) == {"blkio_read_bps": (("8:0", 100),)}
    with pytest.raises(InvalidArgument, match="range is 10 to 1000"):
        check_resources(Resources(blkio_weight_device=(("8:0", 5),)))


def test_v2_writes_cover_every_limit():
    """What the v2 manager writes (this host's unified hierarchy has no controllers to write them to)."""
    from runtime.cgroups.v2 import v2_writes
    res = Resources(memory=64 * MB, memory_reservation=32 * MB, memory_swap=96 * MB, nano_cpus=500_000_000,
                    cpu_shares=1024, cpuset_cpus="0-1", cpuset_mems="0", pids_limit=50, blkio_weight=500,
                    blkio_read_bps=(("8:0", 1000),), blkio_weight_device=(("8:0", 300),))
    writes, warnings = v2_writes(res)
    assert writes == [
        ("memory", "memory.max", str(64 * MB)),
        ("memory", "memory.swap.max", str(32 * MB)),
        ("memory", "memory.low", str(32 * MB)),
        ("cpu", "cpu.max", "50000 100000"),
        ("cpu", "cpu.weight", "39"),
        ("cpuset", "cpuset.cpus", "0-1"),
        ("cpuset", "cpuset.mems", "0"),
        ("pids", "pids.max", "50"),
        ("io", "io.weight", "default 4950"),
        ("io", "io.weight", "8:0 2930"),
        ("io", "io.max", "8:0 rbps=1000"),
    ]
    assert warnings == []
    bfq_writes, _ = v2_writes(Resources(blkio_weight=500, blkio_weight_device=(("8:0", 300),)), bfq=True)
    assert bfq_writes == [("io", "io.bfq.weight", "500"), ("io", "io.bfq.weight", "8:0 300")]


def test_v2_writes_unlimited_and_defaults():
    from runtime.cgroups.v2 import v2_writes
    assert v2_writes(Resources(memory=64 * MB))[0] == [("memory", "memory.max", str(64 * MB)),
                                                      ("memory", "memory.swap.max", str(64 * MB))]
    assert v2_writes(Resources(memory=-1, memory_swap=-1, pids_limit=-1))[0] == [
        ("memory", "memory.max", "max"), ("memory", "memory.swap.max", "max"), ("pids", "pids.max", "max")]
    assert v2_writes(Resources(cpu_period=50000))[0] == [("cpu", "cpu.max", "max 50000")]
    assert v2_writes(Resources(memory_swappiness=0, oom_kill_disable=True))[1] == [
        "memory_swappiness is not supported by cgroup v2: discarded",
        "oom_kill_disable is not supported by cgroup v2: discarded"]


def test_parse_cpuset():
    from runtime.resources import parse_cpuset
    assert parse_cpuset("0-2,5") == {0, 1, 2, 5}
    assert parse_cpuset("") == frozenset()
    assert parse_cpuset("3") == {3}
    for bad in ("a", "1-", "3-1", "1,,2", "-1"):
        with pytest.raises(ValueError):
            parse_cpuset(bad)
    with pytest.raises(InvalidArgument, match="cpuset_cpus"):
        check_resources(Resources(cpuset_cpus="0-x"))
