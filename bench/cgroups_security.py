#!/usr/bin/env python3
"""What confinement costs on the container start path: cgroup create/apply/add/destroy, seccomp compile (cold and
cached) and install, the whole child-side SecurityPlan. (runc does the same work inside its ~22 ms ``runc run``;
it cannot be timed apart there, so the figures stand alone.)

Run as root: ``.venv/bin/python bench/cgroups_security.py [--repeat 200]``. Cgroups go under a unique parent
``pycompose-bench-<hex>``, removed at the end. Prints medians and p90 per step, in milliseconds.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.cgroups import Resources, detect_mode, new_manager, remove_parent  # noqa: E402
from runtime.security import SecurityPlan, apply_after_user, apply_before_user, build_plan  # noqa: E402
from runtime.security import capabilities, seccomp  # noqa: E402


def _ms(samples: list[float]) -> str:
    samples = sorted(samples)
    p90 = samples[int(len(samples) * 0.9) - 1] if len(samples) >= 10 else samples[-1]
    return f"median {statistics.median(samples) * 1e3:8.3f} ms   p90 {p90 * 1e3:8.3f} ms   (n={len(samples)})"


def _time(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _in_child(fn: Callable[[], None]) -> float:
    """Run ``fn`` in a forked child; returns the child's own measurement of it (seconds)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        t = time.perf_counter()
        try:
            fn()
            os.write(w, json.dumps(time.perf_counter() - t).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = os.read(r, 100)
    os.close(r)
    os.waitpid(pid, 0)
    return float(json.loads(data))


def _own_cgroups() -> list[Path]:
    """The cgroup.procs files of this process's current cgroups (v1 hierarchies and the unified one)."""
    from runtime.cgroups.v1 import v1_mounts
    from runtime.cgroups.v2 import v2_mountpoint
    mounts = v1_mounts()
    out = []
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        if not ctrls:
            root = v2_mountpoint()
        else:
            root = next((mounts[c] for c in ctrls.split(",") if c in mounts), None)
        if root is not None:
            out.append(root / path.lstrip("/") / "cgroup.procs")
    return out


def _return_to(procs_files: list[Path]) -> None:
    for f in procs_files:
        f.write_text(str(os.getpid()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    n = args.repeat
    parent = f"pycompose-bench-{secrets.token_hex(3)}"
    print(f"cgroup mode: {detect_mode().value}; {n} rounds per step")
    res = Resources(memory=64 << 20, nano_cpus=500_000_000, pids_limit=100, cpu_shares=512)
    create, apply_, add, destroy = [], [], [], []
    home = _own_cgroups()
    try:
        for i in range(n):
            mgr = new_manager(f"c{i}", parent)
            t0 = time.perf_counter()
            mgr.create()
            t1 = time.perf_counter()
            mgr.apply(res)
            t2 = time.perf_counter()
            mgr.add(os.getpid())
            t3 = time.perf_counter()
            _return_to(home)  # back where we came from, so destroy finds it empty (not timed)
            t4 = time.perf_counter()
            mgr.destroy()
            t5 = time.perf_counter()
            create.append(t1 - t0)
            apply_.append(t2 - t1)
            add.append(t3 - t2)
            destroy.append(t5 - t4)
    finally:
        remove_parent(parent)
    print(f"cgroup create (+device policy) {_ms(create)}")
    print(f"cgroup apply (mem/cpu/pids)    {_ms(apply_)}")
    print(f"cgroup add pid                 {_ms(add)}")
    print(f"cgroup destroy                 {_ms(destroy)}")

    profile = seccomp.default_profile()
    cold = []
    for i in range(min(n, 30)):
        seccomp._compile.cache_clear()
        t = time.perf_counter()
        seccomp.compile_profile(profile, capabilities.DEFAULT_CAPABILITIES)
        cold.append(time.perf_counter() - t)
    warm = _time(lambda: seccomp.compile_profile(profile, capabilities.DEFAULT_CAPABILITIES), n)
    plan_t = _time(lambda: build_plan(), n)
    print(f"seccomp compile, cold          {_ms(cold)}")
    print(f"seccomp compile, cached        {_ms(warm)}")
    print(f"build_plan (parent, cached)    {_ms(plan_t)}")

    plan = build_plan()
    bpf = plan.seccomp_bpf
    install = [_in_child(lambda: seccomp.install_filter(bpf)) for _ in range(min(n, 100))]
    wire = json.dumps(plan.to_dict())

    def full() -> None:
        p = SecurityPlan.from_dict(json.loads(wire))
        apply_before_user(p)
        apply_after_user(p)
    whole = [_in_child(full) for _ in range(min(n, 100))]
    print(f"seccomp install (child)        {_ms(install)}")
    print(f"plan decode+apply (child)      {_ms(whole)}")


if __name__ == "__main__":
    main()
