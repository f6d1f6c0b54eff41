"""Host mode detection from mountinfo text, and the manager the factory picks for it."""
from __future__ import annotations

import pytest

from runtime.cgroups.factory import CgroupMode, detect_mode, new_manager
from runtime.cgroups.v1 import V1Manager, v1_mounts
from runtime.cgroups.v2 import V2Manager, v2_mountpoint
from runtime.errors import InvalidArgument, Unsupported

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
"""
PURE_V2 = """\
22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
30 23 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
"""
NONE = "22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"


def _write(tmp_path, text):
    path = tmp_path / "mountinfo"
    path.write_text(text)
    return str(path)


def test_hybrid(tmp_path):
    mi = _write(tmp_path, HYBRID)
    assert detect_mode(mi) is CgroupMode.HYBRID
    mounts = v1_mounts(mi)
    assert mounts["cpu"] == mounts["cpuacct"]  # co-mounted hierarchies share a directory
    assert str(mounts["memory"]) == "/sys/fs/cgroup/memory"
    assert "systemd" not in mounts and "name=systemd" not in mounts
    assert str(v2_mountpoint(mi)) == "/sys/fs/cgroup/unified"


def test_pure_v2(tmp_path):
    mi = _write(tmp_path, PURE_V2)
    assert detect_mode(mi) is CgroupMode.V2
    assert v1_mounts(mi) == {}
    assert str(v2_mountpoint(mi)) == "/sys/fs/cgroup"


def test_no_cgroups_is_unsupported(tmp_path):
    with pytest.raises(Unsupported, match="no cgroup"):
        detect_mode(_write(tmp_path, NONE))


def test_factory_picks_v1_on_hybrid_and_v2_on_v2():
    assert isinstance(new_manager("x", "p", CgroupMode.HYBRID), V1Manager)
    assert isinstance(new_manager("x", "p", CgroupMode.V1), V1Manager)
    assert isinstance(new_manager("x", "p", CgroupMode.V2), V2Manager)


def test_factory_on_this_host_matches_its_mounts():
    mgr = new_manager("x", "pycompose-test-none")
    assert mgr.version == (2 if detect_mode() is CgroupMode.V2 else 1)
    assert not mgr.exists()


@pytest.mark.parametrize("name", ["", "a/b", "..", "."])
def test_bad_names_are_refused(name):
    with pytest.raises(InvalidArgument):
        V2Manager(name, "p", root="/sys/fs/cgroup")


def test_bad_parent_is_refused():
    with pytest.raises(InvalidArgument):
        V2Manager("x", "a/../b", root="/sys/fs/cgroup")


def test_host_features_match_the_hierarchies():
    from runtime.cgroups.features import feature_warnings, host_features
    f = host_features()
    assert f["CgroupVersion"] == ("2" if detect_mode() is CgroupMode.V2 else "1")
    if detect_mode() is not CgroupMode.V2:
        mounts = v1_mounts()
        assert f["MemoryLimit"] == ("memory" in mounts)
        assert f["PidsLimit"] == ("pids" in mounts)
        assert f["SwapLimit"] == (("memory" in mounts)
                                  and (mounts["memory"] / "memory.memsw.limit_in_bytes").exists())
    assert all(w.startswith("WARNING: No ") for w in feature_warnings())
