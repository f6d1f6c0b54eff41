"""Median latency of create + start + wait + remove of ``true`` with our runtime, beside Debian's ``runc run`` of a
bundle made from the same busybox rootfs, alternating in the same run. Prints milliseconds and the ratio.
Needs root.

Usage: python bench/container_start.py [REPS=50]
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.cgroups import remove_parent  # noqa: E402
from runtime.containers import ContainerService  # noqa: E402
from runtime.spec import ContainerSpec  # noqa: E402

BUSYBOX = Path("/bin/busybox")


def make_rootfs(root: Path) -> None:
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "root"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, root / "bin/busybox")
    for applet in subprocess.run([str(BUSYBOX), "--list"], check=True, capture_output=True, text=True).stdout.split():
        if not (root / "bin" / applet).exists():
            (root / "bin" / applet).symlink_to("busybox")
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    (root / "etc/group").write_text("root:x:0:\nnogroup:x:65534:\n")


def _ours(svc: ContainerService, spec: ContainerSpec) -> float:
    t0 = time.perf_counter()
    cid = svc.create(None, spec)
    svc.start(cid)
    code = svc.wait(cid)
    svc.remove(cid)
    if code != 0:
        raise SystemExit(f"our container exited {code}")
    return time.perf_counter() - t0


def _bundle(rootfs: Path, work: Path) -> Path | None:
    runc = shutil.which("runc")
    if runc is None:
        return None
    bundle = work / "bundle"
    bundle.mkdir()
    subprocess.run([runc, "spec"], cwd=bundle, check=True)
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["/bin/true"]
    cfg["root"] = {"path": str(rootfs), "readonly": True}
    (bundle / "config.json").write_text(json.dumps(cfg))
    return bundle


def _runc(bundle: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(["runc", "run", "-b", str(bundle), f"pcbench-{secrets.token_hex(4)}"], check=True,
                   stdin=subprocess.DEVNULL)
    return time.perf_counter() - t0


def bench(rootfs: Path, work: Path, reps: int) -> tuple[list[float], list[float] | None]:
    """Alternate the two so that whatever else the machine does weighs on both alike."""
    parent = f"pycompose-bench-{secrets.token_hex(3)}"
    svc = ContainerService(work / "root", cgroup_parent=parent)
    spec = ContainerSpec(args=("/bin/true",), rootfs=(str(rootfs),), readonly_rootfs=True)
    bundle = _bundle(rootfs, work)
    ours: list[float] = []
    theirs: list[float] = []
    try:
        for i in range(reps + 3):
            a = _ours(svc, spec)
            b = _runc(bundle) if bundle else 0.0
            if i >= 3:  # the first runs start the fork server and warm the caches
                ours.append(a)
                theirs.append(b)
    finally:
        svc.close()
        remove_parent(parent)
    return ours, (theirs if bundle else None)


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    if os.geteuid() != 0:
        raise SystemExit("needs root")
    work = Path(tempfile.mkdtemp(prefix="pycompose-bench-"))
    try:
        rootfs = work / "rootfs"
        make_rootfs(rootfs)
        ours, theirs = bench(rootfs, work, reps)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = statistics.median(ours) * 1000
    print(f"pycompose create+start+wait+remove 'true': median {med:.1f} ms "
          f"(min {min(ours) * 1000:.1f}, max {max(ours) * 1000:.1f}, n={len(ours)})")
    if theirs is None:
        print("runc: not installed, no comparison")
        return
    rmed = statistics.median(theirs) * 1000
    print(f"runc run (bundle, same rootfs):      median {rmed:.1f} ms "
          f"(min {min(theirs) * 1000:.1f}, max {max(theirs) * 1000:.1f}, n={len(theirs)})")
    print(f"ratio pycompose/runc: {med / rmed:.2f}")


if __name__ == "__main__":
    main()
