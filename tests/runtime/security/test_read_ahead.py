"""What a spare container init reads from /proc while it waits (``init.warm_up``), and that its start then needs
no /proc read for it: the oom_score_adj it inherited and the host's cgroup mounts. Each test runs in a forked
child that hides /proc behind a tmpfs in a private mount namespace of its own (gone with the child)."""
from __future__ import annotations

import os
import tempfile

import pytest

from runtime import init, linux, rootfs
from runtime.security import privileges


def _hide_proc() -> None:
    linux.unshare(linux.CLONE_NEWNS)
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)  # nothing below reaches the host
    linux.mount("tmpfs", "/proc", "tmpfs", 0, "size=4k")


@pytest.mark.root
def test_noted_oom_score_is_used_when_proc_is_gone(in_child):
    def child():
        privileges.set_oom_score_adj(300)
        privileges.note_oom_score_adj()
        _hide_proc()
        privileges.drop_inherited_oom_protection()  # reads nothing: 300 is not a protection to drop
        return os.path.exists("/proc/self")
    assert in_child(child) is False


@pytest.mark.root
def test_setting_the_score_updates_the_noted_one(in_child):
    def child():
        try:
            privileges.set_oom_score_adj(-500)  # an engine protected by its service manager
        except PermissionError:
            return None
        privileges.note_oom_score_adj()
        privileges.set_oom_score_adj(200)  # noted too: the -500 read ahead is no longer true
        _hide_proc()
        privileges.drop_inherited_oom_protection()  # would write 0 (and fail) on the stale -500
        return True
    got = in_child(child)
    if got is None:
        pytest.skip("no CAP_SYS_RESOURCE here: a negative score cannot be set up")
    assert got is True


@pytest.mark.root
def test_noted_host_cgroups_are_mounted_when_proc_is_gone(in_child):
    target = tempfile.mkdtemp(prefix="pycompose-test-cg-")
    try:
        def child():
            rootfs.note_host_cgroups()
            want = sorted(sub for sub, _, _ in rootfs._host_cgroup_mounts() if sub and "/" not in sub)
            _hide_proc()
            rootfs._mount_cgroups(target, linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC | linux.MS_RDONLY)
            return want, sorted(os.listdir(target))
        want, got = in_child(child)
        if not want:
            pytest.skip("a pure cgroup v2 host: one cgroup2 mount, no per-controller directories")
        assert got == want
        assert os.listdir(target) == []  # the mounts lived in the child's namespace only
    finally:
        os.rmdir(target)


def test_warm_up_notes_both(in_child):
    def child():
        init.warm_up()
        return (rootfs._noted_cgroups == rootfs._host_cgroup_mounts(),
                privileges._own_score == privileges.oom_score_adj())
    assert in_child(child) == [True, True]


def test_a_monitors_warm_up_only_decodes(in_child):
    """A spare monitor never builds a spec or reads the container's /proc: its warm-up decodes and encodes the
    sample config (text made once, before the fork server's fork) and notes nothing."""
    text = init.sample_text()

    def child():
        init.warm_up(parse=False)
        return rootfs._noted_cgroups is None and privileges._own_score is None and init.sample_text() is text
    assert in_child(child) is True
