"""Capability arithmetic (Docker's rules) and a real child that applies a set and reads /proc/self/status."""
from __future__ import annotations

import os
import subprocess

import pytest

from runtime.security import capabilities as caps

DOCKER_DEFAULT = 0x00000000A80425FB


def test_default_set_is_dockers_mask():
    assert caps.DEFAULT_MASK == DOCKER_DEFAULT
    assert caps.to_mask(caps.compute_capabilities()) == DOCKER_DEFAULT


def test_names_and_numbers_round_trip():
    assert caps.cap_number("CHOWN") == 0
    assert caps.cap_number("cap_sys_admin") == 21
    assert caps.cap_number("CAP_CHECKPOINT_RESTORE") == 40
    assert caps.cap_name(24) == "CAP_SYS_RESOURCE"
    assert caps.to_names(caps.to_mask(["NET_ADMIN", "SYS_TIME"])) == ["CAP_NET_ADMIN", "CAP_SYS_TIME"]
    with pytest.raises(ValueError, match="unknown capability"):
        caps.cap_number("NOPE")


def test_add_and_drop():
    got = caps.compute_capabilities(cap_add=["net_admin"], cap_drop=["CAP_CHOWN", "MKNOD"])
    assert "CAP_NET_ADMIN" in got and "CAP_CHOWN" not in got and "CAP_MKNOD" not in got
    assert "CAP_KILL" in got


def test_drop_all_keeps_only_the_added():
    assert caps.compute_capabilities(cap_add=["NET_BIND_SERVICE"], cap_drop=["ALL"]) == ["CAP_NET_BIND_SERVICE"]


def test_add_all_minus_drops():
    got = caps.compute_capabilities(cap_add=["ALL"], cap_drop=["SYS_ADMIN"])
    assert "CAP_SYS_ADMIN" not in got
    assert len(got) == len(caps.all_capabilities()) - 1


def test_privileged_is_everything_the_kernel_knows():
    assert caps.compute_capabilities(privileged=True, cap_drop=["ALL"]) == caps.all_capabilities()
    assert len(caps.all_capabilities()) == caps.last_cap() + 1


def test_privileged_mask_is_limited_to_what_the_engine_holds():
    assert caps.compute_mask(privileged=True) & ~caps.bounding_mask() == 0


def test_add_all_is_limited_to_what_the_engine_holds():
    assert caps.compute_mask(cap_add=["ALL"]) & ~caps.bounding_mask() == 0
    missing = caps.to_names(~caps.bounding_mask() & caps.to_mask(caps.all_capabilities()))
    if missing:  # naming a withheld capability explicitly keeps it, so the plan can refuse it clearly
        assert caps.compute_mask(cap_add=["ALL", missing[0]]) & caps.to_mask([missing[0]])


def test_unknown_name_is_refused():
    with pytest.raises(ValueError, match="unknown capability"):
        caps.compute_capabilities(cap_add=["FLY"])


@pytest.mark.root
def test_child_applies_docker_default_set(in_child):
    def child():
        caps.apply_capabilities(caps.DEFAULT_MASK)
        return caps.read_status_caps()
    status = in_child(child)
    assert status["CapEff"] == DOCKER_DEFAULT
    assert status["CapPrm"] == DOCKER_DEFAULT
    assert status["CapBnd"] == DOCKER_DEFAULT
    assert status["CapInh"] == 0
    assert status["CapAmb"] == 0


@pytest.mark.root
def test_child_drops_chown_and_chown_fails(in_child, tmp_path):
    target = tmp_path / "f"
    target.write_text("x")
    mask = caps.compute_mask(cap_drop=["CHOWN"])

    def child():
        caps.apply_capabilities(mask)
        try:
            os.chown(target, 1234, 1234)
        except PermissionError:
            return "refused"
        return "allowed"
    assert in_child(child) == "refused"
    def with_chown():
        caps.apply_capabilities(caps.DEFAULT_MASK)
        os.chown(target, 1234, 1234)
        return "allowed"
    assert in_child(with_chown) == "allowed"


@pytest.mark.root
def test_child_switching_user_keeps_bounding_and_exec_clears_effective(in_child):
    """The runc order: bounding drop + keepcaps, setuid, capset; after execve a non-root process has no caps."""
    mask = caps.DEFAULT_MASK

    def child():
        caps.prepare_capabilities(mask)
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
        caps.finish_capabilities(mask)
        before_exec = caps.read_status_caps()
        out = subprocess.run(["/bin/busybox", "cat", "/proc/self/status"], capture_output=True, text=True,
                             check=True).stdout
        after = {line.split(":")[0]: int(line.split()[1], 16) for line in out.splitlines() if line.startswith("Cap")}
        return {"before": before_exec, "after": after}
    got = in_child(child)
    assert got["before"]["CapEff"] == mask and got["before"]["CapBnd"] == mask
    assert got["after"]["CapEff"] == 0 and got["after"]["CapPrm"] == 0
    assert got["after"]["CapBnd"] == mask


@pytest.mark.root
def test_granting_a_capability_the_engine_lacks_fails_clearly(in_child):
    missing = ~caps.bounding_mask() & ((1 << (caps.last_cap() + 1)) - 1)
    if not missing:
        pytest.skip("the engine holds every capability here: nothing it could lack")
    mask = caps.DEFAULT_MASK | missing

    def child():
        caps.apply_capabilities(mask)
    with pytest.raises(Exception, match="cannot grant capabilities not held by the engine"):
        in_child(child)
