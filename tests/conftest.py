"""Shared fixtures. Kernel-touching tests are marked ``root`` and skip (with the reason) when not root."""
from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

BUSYBOX = Path("/bin/busybox")


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (namespaces, mounts, cgroups, netlink)")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _no_leaks():
    """With PYCOMPOSE_LEAK_CHECK=1 (the test command sets it) the run fails on any leftover kernel object."""
    if os.environ.get("PYCOMPOSE_LEAK_CHECK") != "1" or os.geteuid() != 0:
        yield
        return
    from tests.support.leaks import leaks_between, take_snapshot

    before = take_snapshot()
    yield
    problems = leaks_between(before, take_snapshot())
    if problems:
        pytest.fail("the tests left kernel objects behind:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def _own_cache_dir(tmp_path_factory):
    """pycompose's caches (project summaries, ...) go to a per-run directory, never the user's ~/.cache."""
    old = os.environ.get("PYCOMPOSE_CACHE_DIR")
    os.environ["PYCOMPOSE_CACHE_DIR"] = str(tmp_path_factory.mktemp("pycompose-cache"))
    yield
    if old is None:
        os.environ.pop("PYCOMPOSE_CACHE_DIR", None)
    else:
        os.environ["PYCOMPOSE_CACHE_DIR"] = old


def _build_busybox_rootfs(root: Path) -> None:
    """A minimal rootfs from Debian's busybox-static: the applets, /etc/passwd with root and nobody."""
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "var/www", "run"):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    out = subprocess.run([str(BUSYBOX), "--list-full"], check=True, capture_output=True, text=True).stdout
    for rel in out.split():
        target = root / rel
        if target.exists() or target.is_symlink():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to("/bin/busybox")
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    (root / "etc/group").write_text("root:x:0:\nnogroup:x:65534:\n")
    (root / "etc/nsswitch.conf").write_text("hosts: files dns\n")
    (root / "etc/hosts").write_text("")
    (root / "etc/resolv.conf").write_text("")
    (root / "var/www/index.html").write_text("<h1>busybox</h1>\n")


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory) -> Path:
    """A directory holding a busybox rootfs (read-only by convention: copy it before changing it)."""
    if not BUSYBOX.exists():
        pytest.skip("Debian's busybox-static is not installed (/bin/busybox)")
    root = tmp_path_factory.mktemp("busybox-rootfs")
    _build_busybox_rootfs(root)
    return root


@pytest.fixture(scope="session")
def busybox_tar(busybox_rootfs, tmp_path_factory) -> Path:
    """The busybox rootfs as a plain tarball (what ``docker import`` takes)."""
    out = tmp_path_factory.mktemp("busybox-tar") / "busybox-rootfs.tar"
    with tarfile.open(out, "w") as tar:
        for path in sorted(busybox_rootfs.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(busybox_rootfs)))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isreg():
                with open(path, "rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
    return out
