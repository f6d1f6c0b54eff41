"""What an embedded-DNS scope costs a container start: the redirect's nf_tables transactions, alone, and
``DnsServer.add_scope`` in a fresh netns and again in the same netns (a container started a second time).

For each nft variant the wall time and the thread's CPU time are printed: where they differ, the kernel made the
call wait (an RCU grace period), it did not work. Needs root and libnftables. Namespaces are made per round by an
unshared thread (nothing named) or as ``pct-<hex>`` under /var/run/netns, and removed.
Usage: python bench/dns_scope.py [ROUNDS=15]
"""
from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runtime import linux  # noqa: E402
from runtime.network.dns.redirect import TABLE, _create_script, redirect_script  # noqa: E402
from runtime.network.nftlib import load_library, run_in_context  # noqa: E402

ADDRESS = "127.0.0.11"
_RULES = _create_script(ADDRESS, 40000, 40001)
VARIANTS: dict[str, list[str]] = {
    # name: scripts run one after another in a fresh netns; the last one is timed
    "create (fresh netns)": [_RULES],
    "replace: table{}; delete table; table{...} (fresh)": [redirect_script(ADDRESS, 40000, 40001)],
    "replace (table there)": [_RULES, redirect_script(ADDRESS, 40002, 40003)],
    "create refused (table there)": [_RULES, _create_script(ADDRESS, 40002, 40003)],
    "list table (table there)": [_RULES, f"list table ip {TABLE}\n"],
    "list table (none: read error)": [f"list table ip {TABLE}\n"],
    "flush chain + 2 rules (table there)": [_RULES, f"flush chain ip {TABLE} output\n" + "\n".join(
        line for line in _RULES.splitlines() if line.startswith("add rule")) + "\n"],
}


def _variant(lib, scripts: list[str]) -> tuple[float, float]:
    out: dict[str, tuple[float, float]] = {}

    def _body() -> None:
        linux.unshare(linux.CLONE_NEWNET)  # this thread only; the netns dies with it
        for script in scripts:
            w0, c0 = time.perf_counter(), time.thread_time()
            run_in_context(lib, script)  # errors are part of what is measured (refused, missing)
            out["t"] = ((time.perf_counter() - w0) * 1e3, (time.thread_time() - c0) * 1e3)

    thread = threading.Thread(target=_body)
    thread.start()
    thread.join()
    return out["t"]


def _scopes(rounds: int) -> tuple[float, float]:
    from pyroute2 import netns

    from runtime.network.dns import DnsServer

    names = [f"pct-{secrets.token_hex(3)}" for _ in range(rounds)]
    first, again = [], []

    async def _run() -> None:
        server = DnsServer(redirect=True, fastpath=False)
        try:
            for i, name in enumerate(names):
                cid, path = f"{i:064x}", f"/var/run/netns/{name}"
                t0 = time.perf_counter()
                await server.add_scope(cid, path, upstreams=[])
                first.append((time.perf_counter() - t0) * 1e3)
                server.remove_scope(cid)
                t0 = time.perf_counter()
                await server.add_scope(cid, path, upstreams=[])
                again.append((time.perf_counter() - t0) * 1e3)
                server.remove_scope(cid)
        finally:
            server.close()

    made = []
    try:
        for name in names:
            netns.create(name)
            made.append(name)
        asyncio.run(_run())
    finally:
        for name in made:
            netns.remove(name)
    return statistics.median(first), statistics.median(again)


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    if os.geteuid() != 0:
        print("bench/dns_scope.py needs root", file=sys.stderr)
        return 2
    lib = load_library()
    if lib is None:
        print("libnftables is not installed", file=sys.stderr)
        return 2
    print(f"nf_tables transactions of the DNS redirect, {rounds} rounds, median ms (load "
          f"{os.getloadavg()[0]:.2f})")
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in VARIANTS}
    for _ in range(rounds):  # interleaved: load changes weigh on every variant alike
        for name, scripts in VARIANTS.items():
            results[name].append(_variant(lib, scripts))
    for name, vals in results.items():
        wall = statistics.median(v[0] for v in vals)
        cpu = statistics.median(v[1] for v in vals)
        print(f"  {name:52s} wall {wall:6.2f}  cpu {cpu:5.2f}  waited {wall - cpu:6.2f}")
    fresh, second = _scopes(rounds)
    print(f"add_scope (redirect): fresh netns {fresh:.2f} ms, second start in the same netns {second:.2f} ms "
          f"(load {os.getloadavg()[0]:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
