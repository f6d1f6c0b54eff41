"""Memory cost of running containers: PSS of each container's monitor (and of the fork server they share pages
with), measured from /proc/<pid>/smaps_rollup with N containers running ``sleep``. Needs root.

Usage: python bench/monitor_memory.py [N=20]
"""
from __future__ import annotations

import json
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.cgroups import remove_parent  # noqa: E402
from runtime.containers import ContainerService  # noqa: E402
from runtime.spec import ContainerSpec  # noqa: E402


def pss_kib(pid: int) -> tuple[int, int, int]:
    """(Pss, Rss, Private_Dirty) in KiB."""
    vals = {}
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":"):
                vals[parts[0][:-1]] = int(parts[1])
    return vals.get("Pss", 0), vals.get("Rss", 0), vals.get("Private_Dirty", 0) + vals.get("Private_Clean", 0)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    work = Path(tempfile.mkdtemp(prefix="pycompose-mem-"))
    rootfs = work / "rootfs"
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp"):
        (rootfs / d).mkdir(parents=True)
    shutil.copy2("/bin/busybox", rootfs / "bin/busybox")
    (rootfs / "bin/sleep").symlink_to("busybox")
    (rootfs / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    parent = f"pycompose-bench-{secrets.token_hex(3)}"
    svc = ContainerService(work / "root", cgroup_parent=parent)
    ids = []
    try:
        for _ in range(n):
            cid = svc.create(None, ContainerSpec(args=("/bin/sleep", "1000"), rootfs=(str(rootfs),)))
            svc.start(cid)
            ids.append(cid)
        monitors = [json.loads((svc.dir / cid / "state.json").read_text())["monitor_pid"] for cid in ids]
        server = svc._forkserver._proc.pid if svc._forkserver._proc else None  # noqa: SLF001 - a measurement
        rows = [pss_kib(pid) for pid in monitors]
        pss = [r[0] for r in rows]
        print(f"{n} running containers; per monitor: PSS median {statistics.median(pss)} KiB "
              f"(min {min(pss)}, max {max(pss)}), RSS median {statistics.median(r[1] for r in rows)} KiB, "
              f"private median {statistics.median(r[2] for r in rows)} KiB")
        if server:
            s_pss, s_rss, s_priv = pss_kib(server)
            print(f"fork server (one per engine): PSS {s_pss} KiB, RSS {s_rss} KiB, private {s_priv} KiB")
            print(f"monitors + fork server per container: {(sum(pss) + s_pss) / n:.0f} KiB PSS")
        out = subprocess.run(["ps", "-o", "pid,rss,comm", "-p", str(monitors[0])], capture_output=True, text=True)
        print(out.stdout.strip())
    finally:
        for cid in ids:
            svc.remove(cid, force=True)
        svc.close()
        remove_parent(parent)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
