#!/usr/bin/env python3
"""Embedded DNS bench: queries/s and p50/p99 latency from inside a netns, beside aardvark-dns and dnsmasq.

Run as root: ``.venv/bin/python bench/dns.py [--seconds 3] [--repeat 3] [--rate 5000] [--inflight 20]
[--modes redirect,direct,python] [--busy]``.
Needs ``dnsperf``; ``aardvark-dns`` (podman's, Debian's ``aardvark-dns``) and ``dnsmasq`` (``dnsmasq-base``)
are the references and are measured when installed (else the bench says "not installed"). Without dnsperf
a small Python client asks (then the client, not the server, may be the limit).

What it does, all inside one fresh netns ``pct-<hex>`` (removed at the end):

- a bridge ``pcb0`` in that netns with 10.88.0.1/24 (aardvark-dns listens there, as podman puts it on the
  network's gateway) and 10.88.0.4/24 (the asking "client" container's address: aardvark-dns answers by
  the asker's source address, so dnsperf sends from it);
- the embedded server (runtime.network.dns.DnsServer) in a child process of its own per mode, as the daemon
  runs it: names web / api (3 replicas) / the container names, a scope for the "client" container, on
  127.0.0.11:53 via nftables DNAT to a free port (``redirect``, the default) and on 127.0.0.13:53 bound
  directly (``direct``), both served by the native cache-hit thread; ``python`` (127.0.0.14, direct) has
  the loop answer every query, as without a C compiler; ``noslice`` (127.0.0.15, direct, not default) runs
  the native thread on the kernel's default scheduler slice instead of 0.1 ms; ``--busy`` adds a thread that keeps the GIL busy in that process, as the daemon's
  worker threads do while they unpack a pulled image or build a tar;
- the real aardvark-dns on 10.88.0.1:53 with a config file naming the same containers (it forks; stopped
  by the PID it writes), and dnsmasq on 127.0.0.12:53 with the same names (``--host-record``);
- the same query mix for all (A queries for web, api, bench-web-1, bench-api-2) with dnsperf (the tool the
  peers were measured with, shared/peers/32-dns-test.sh):
  1. a fixed rate (``--rate``, default 5,000 q/s): p50 / p99 latency from dnsperf's per-query report;
  2. flat out with ``--inflight`` (20) queries outstanding: queries/s, mean latency;
- alternates the servers run by run (``--repeat``) and prints medians, so load from elsewhere on the
  machine hits all alike; then a table, the ratios to aardvark-dns and dnsmasq measured in the same run,
  and to the peers' quiet-machine figures (aardvark-dns 80,265 q/s, Docker 70,648 q/s).
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PEERS = {"aardvark-dns (podman)": 80265.0, "docker embedded DNS": 70648.0}
# our server, per mode; "python": direct, with the loop answering every query (no native fast path);
# "noslice": direct, the native thread on the kernel's default slice (PYCOMPOSE_DNS_SLICE_US=0)
MODES = {"redirect": "127.0.0.11", "direct": "127.0.0.13", "python": "127.0.0.14", "noslice": "127.0.0.15"}
DNSMASQ = "127.0.0.12"
GATEWAY, CLIENT_ADDR = "10.88.0.1", "10.88.0.4"  # aardvark-dns's listen address; the asker's address
CLIENT_ID = "c" * 64
# (container id, container name, aliases, address): the same table for every server
CONTAINERS = [("a" * 64, "bench-web-1", ("web",), "10.88.0.2")] + [
    (f"{i}" * 64, f"bench-api-{i + 1}", ("api",), f"10.88.0.{10 + i}") for i in range(3)]
QUERIES = "web A\napi A\nbench-web-1 A\nbench-api-2 A\n"
AARDVARK = ("aardvark-dns", "/usr/lib/podman/aardvark-dns")


# -- the embedded server, in a child process ---------------------------------------------------------------

def _busy() -> None:
    """What the daemon's worker threads do between I/O: pure-Python work that holds the GIL."""
    import json
    doc = {"Id": "x" * 64, "Config": {"Env": [f"K{i}=v" for i in range(50)]}, "Labels": {"a": "b"}}
    while True:
        json.loads(json.dumps(doc))


def serve(netns_path: str, redirect: bool, address: str, busy: bool, fastpath: bool = True) -> None:
    """Child: run the DNS server until stdin closes; print 'ready' once it listens."""
    import asyncio

    from runtime.network.dns import DnsServer

    async def _main() -> None:
        server = DnsServer(address=address, fastpath=fastpath)
        rec = server.records
        rec.set_network_name("n1", "bench_default")
        for cid, name, aliases, ip in CONTAINERS:
            rec.add_endpoint("n1", cid, name, aliases=list(aliases), ipv4=ip)
        rec.add_endpoint("n1", CLIENT_ID, "bench-client-1", ipv4=CLIENT_ADDR)
        await server.add_scope(CLIENT_ID, netns_path, upstreams=[], redirect=redirect)
        if busy:
            threading.Thread(target=_busy, daemon=True).start()
        done = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().add_reader(sys.stdin.fileno(), lambda: done.done() or done.set_result(None))
        print("ready", flush=True)
        await done
        server.close()

    asyncio.run(_main())


# -- scope setup cost (what each container start pays) -----------------------------------------------------

def scope_setup_ms(count: int = 10) -> dict[str, float]:
    """Median ms of ``add_scope`` (sockets in the netns, plus the nft DNAT in redirect mode) per container."""
    import asyncio

    from pyroute2 import IPRoute, netns

    from runtime.network.dns import DnsServer
    from runtime.network.dns.redirect import redirect_available

    names = [f"pct-{secrets.token_hex(3)}" for _ in range(count)]
    out: dict[str, float] = {}
    try:
        for name in names:
            netns.create(name)
            with IPRoute(netns=name) as ipr:
                ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")

        async def _measure(redirect: bool) -> float:
            server = DnsServer(redirect=redirect)
            times = []
            try:
                for i, name in enumerate(names):
                    t0 = time.perf_counter()
                    await server.add_scope(f"{i:064x}", f"/var/run/netns/{name}", upstreams=[])
                    times.append((time.perf_counter() - t0) * 1000)
            finally:
                server.close()
            return statistics.median(times)

        out["direct"] = asyncio.run(_measure(False))
        if redirect_available():
            out["redirect"] = asyncio.run(_measure(True))
    finally:
        for name in names:
            netns.remove(name)
    return out


# -- netns and processes ------------------------------------------------------------------------------------

def _in_netns(path: str, func):  # type: ignore[no-untyped-def]
    box: dict[str, object] = {}

    def _body() -> None:
        from runtime import linux
        fd = os.open(path, os.O_RDONLY)
        linux.setns(fd, linux.CLONE_NEWNET)
        os.close(fd)
        box["v"] = func()

    t = threading.Thread(target=_body)
    t.start()
    t.join()
    return box["v"]


def _answers(netns_path: str, server: str, deadline: float, source: str = "") -> bool:
    """Poll until ``server`` answers an A query for 'web' (or the deadline passes)."""
    sock = _in_netns(netns_path, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    query = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\x03web\x00\x00\x01\x00\x01"
    with sock:
        sock.bind((source, 0))
        sock.settimeout(0.05)
        while time.monotonic() < deadline:
            sock.sendto(query, (server, 53))
            try:
                reply = sock.recv(512)
            except OSError:
                continue
            if reply[:2] == b"\x00\x07" and reply[3] & 0x0F == 0 and reply[6:8] != b"\x00\x00":
                return True  # NOERROR with an answer: the server knows our names
    return False


def _start_aardvark(netns_path: str, conf_dir: str) -> int | None:
    """aardvark-dns on GATEWAY:53 in the netns, knowing CONTAINERS; its PID (it forks), or None."""
    binary = next((b for b in (shutil.which(AARDVARK[0]), AARDVARK[1]) if b and os.access(b, os.X_OK)), None)
    if binary is None:
        print("aardvark-dns not installed (apt-get install aardvark-dns); measuring without it", file=sys.stderr)
        return None
    lines = [GATEWAY] + [f"{cid} {ip}  {','.join((name, *aliases))}" for cid, name, aliases, ip in CONTAINERS]
    lines.append(f"{CLIENT_ID} {CLIENT_ADDR}  bench-client-1")
    Path(conf_dir, "bench_default").write_text("\n".join(lines) + "\n")
    proc = subprocess.run(["nsenter", f"--net={netns_path}", binary, "--config", conf_dir, "-p", "53", "run"],
                          capture_output=True, text=True, timeout=30)
    pid_file = Path(conf_dir, "aardvark.pid")
    if proc.returncode != 0 or not pid_file.exists():
        print(f"aardvark-dns did not start: {proc.stderr.strip()}", file=sys.stderr)
        return None
    return int(pid_file.read_text().strip())


def _stop_pid(pid: int) -> None:
    """Stop a daemon we started (aardvark-dns), waiting on its pidfd."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        os.kill(pid, signal.SIGTERM)
        import select
        if not select.select([fd], [], [], 5)[0]:
            os.kill(pid, signal.SIGKILL)
            select.select([fd], [], [], 5)
    except ProcessLookupError:
        pass
    finally:
        os.close(fd)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- clients ------------------------------------------------------------------------------------------------

def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def dnsperf(netns_path: str, server: str, qfile: str, seconds: float, *, rate: int | None,
            inflight: int, source: str = "") -> dict[str, float]:
    cmd = ["nsenter", f"--net={netns_path}", "dnsperf", "-s", server, "-d", qfile, "-l", str(seconds),
           "-q", str(inflight)]
    if source:
        cmd += ["-a", source]
    if rate:
        cmd += ["-Q", str(rate), "-v"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    res: dict[str, float] = {}
    m = re.search(r"Queries per second:\s+([\d.]+)", out)
    res["qps"] = float(m.group(1)) if m else float("nan")
    m = re.search(r"Queries lost:\s+(\d+)", out)
    res["lost"] = float(m.group(1)) if m else float("nan")
    m = re.search(r"Response codes:\s+(.*)", out)
    noerror = re.search(r"NOERROR (\d+)", m.group(1)) if m else None
    res["not_noerror"] = float(sum(int(n) for n in re.findall(r"(\d+) \(", m.group(1)))
                               - (int(noerror.group(1)) if noerror else 0)) if m else float("nan")
    m = re.search(r"Average Latency \(s\):\s+([\d.]+)", out)
    res["mean_ms"] = float(m.group(1)) * 1000 if m else float("nan")
    if rate:
        lat = [float(x) * 1000 for x in re.findall(r"^> \S+ \S+ \S+ ([\d.]+)$", out, re.M)]
        res["p50_ms"], res["p99_ms"] = _pct(lat, 0.50), _pct(lat, 0.99)
    return res


def pyclient(netns_path: str, server: str, seconds: float, *, rate: int | None, inflight: int,
             source: str = "") -> dict[str, float]:
    """Fallback client: UDP, ``inflight`` outstanding (or a fixed ``rate``), ids matched to send times."""
    sock = _in_netns(netns_path, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    sock.bind((source, 0))
    sock.connect((server, 53))
    sock.setblocking(False)
    body = struct.pack("!HHHHH", 0x0100, 1, 0, 0, 0) + b"\x03web\x00\x00\x01\x00\x01"
    sent: dict[int, float] = {}
    lat: list[float] = []
    qid = 0
    start = time.perf_counter()
    end = start + seconds
    nsent = 0
    import select
    with sock:
        while True:
            now = time.perf_counter()
            if now >= end:
                break
            want = inflight if rate is None else min(inflight * 50, int((now - start) * rate) - nsent + len(sent))
            while len(sent) < want and (rate is None or nsent < (now - start) * rate):
                qid = (qid + 1) & 0xFFFF
                sent[qid] = time.perf_counter()
                try:
                    sock.send(struct.pack("!H", qid) + body)
                except BlockingIOError:
                    sent.pop(qid)
                    break
                nsent += 1
            select.select([sock], [], [], 0.0002 if rate else 0.01)
            while True:
                try:
                    data = sock.recv(512)
                except BlockingIOError:
                    break
                t0 = sent.pop(struct.unpack_from("!H", data)[0], None)
                if t0 is not None:
                    lat.append(time.perf_counter() - t0)
            stale = time.perf_counter() - 1.0
            for k in [k for k, t in sent.items() if t < stale]:
                del sent[k]
    elapsed = time.perf_counter() - start
    ms = [x * 1000 for x in lat]
    lost = nsent - len(lat) - len(sent)  # still in flight at the end is not lost
    return {"qps": len(lat) / elapsed, "lost": float(lost), "mean_ms": statistics.fmean(ms) if ms else 0.0,
            "p50_ms": _pct(ms, 0.5), "p99_ms": _pct(ms, 0.99)}


# -- main ---------------------------------------------------------------------------------------------------

def _setup_netns(name: str) -> None:
    from pyroute2 import IPRoute
    with IPRoute(netns=name) as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        ipr.link("add", ifname="pcb0", kind="bridge")
        idx = ipr.link_lookup(ifname="pcb0")[0]
        ipr.link("set", index=idx, state="up")
        for addr in (GATEWAY, CLIENT_ADDR):
            ipr.addr("add", index=idx, address=addr, prefixlen=24)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rate", type=int, default=5000)
    ap.add_argument("--inflight", type=int, default=20)
    ap.add_argument("--client", choices=["auto", "dnsperf", "python"], default="auto")
    ap.add_argument("--repeat", type=int, default=3, help="runs per server, alternated; medians are printed")
    ap.add_argument("--modes", default="redirect,direct,python",
                    help="ours to measure: redirect (the default mode: free port + nftables DNAT of "
                         "127.0.0.11:53), direct (bound to :53 itself), python (direct, without the native "
                         "fast path: the loop answers every query), noslice (direct, the native thread "
                         "without its short scheduler slice)")
    ap.add_argument("--busy", action="store_true", help="a GIL-holding thread in our server's process")
    ap.add_argument("--no-setup", action="store_true", help="skip the add_scope timing")
    ap.add_argument("--serve", metavar="NETNS", help=argparse.SUPPRESS)
    ap.add_argument("--mode", choices=list(MODES), default="redirect", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.mode == "redirect", MODES[args.mode], args.busy, args.mode != "python")
        return 0
    if os.geteuid() != 0:
        print("bench/dns.py needs root (network namespaces)", file=sys.stderr)
        return 2
    from pyroute2 import netns

    modes = [m for m in args.modes.split(",") if m]
    if not modes or any(m not in MODES for m in modes):
        ap.error(f"--modes: a comma-separated list of {', '.join(MODES)}")
    client = args.client
    if client == "auto":
        client = "dnsperf" if shutil.which("dnsperf") else "python"
    name = f"pct-{secrets.token_hex(3)}"
    netns.create(name)
    path = f"/var/run/netns/{name}"
    procs: list[subprocess.Popen] = []
    aardvark_pid: int | None = None
    tmp = tempfile.TemporaryDirectory(prefix="pycompose-dnsbench-")
    try:
        _setup_netns(name)
        targets: list[tuple[str, str, str]] = []  # (label, server address, source address)
        for mode in modes:
            cmd = [sys.executable, __file__, "--serve", path, "--mode", mode] + (["--busy"] if args.busy else [])
            env = dict(os.environ, PYCOMPOSE_DNS_SLICE_US="0") if mode == "noslice" else None
            ours = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
            procs.append(ours)
            if ours.stdout is None or ours.stdout.readline().strip() != "ready":
                print(f"embedded DNS server ({mode}) did not start", file=sys.stderr)
                return 1
            if not _answers(path, MODES[mode], time.monotonic() + 10):
                print(f"embedded DNS server ({mode}) does not answer", file=sys.stderr)
                return 1
            targets.append((f"pycompose {mode}", MODES[mode], ""))
        conf = os.path.join(tmp.name, "aardvark")
        os.mkdir(conf)
        aardvark_pid = _start_aardvark(path, conf)
        if aardvark_pid is not None:
            if _answers(path, GATEWAY, time.monotonic() + 10, CLIENT_ADDR):
                targets.append(("aardvark-dns", GATEWAY, CLIENT_ADDR))
            else:
                print("aardvark-dns did not answer; measuring without it", file=sys.stderr)
        if shutil.which("dnsmasq"):
            records = [f"--host-record={n},{ip}" for _, n, _, ip in CONTAINERS]
            records += [f"--host-record={a},{ip}" for _, _, aliases, ip in CONTAINERS for a in aliases]
            dm = subprocess.Popen(["nsenter", f"--net={path}", "dnsmasq", "--keep-in-foreground", "--no-resolv",
                                   "--no-hosts", f"--listen-address={DNSMASQ}", "--bind-interfaces", "--port=53",
                                   *records, "--user=root", "--pid-file=", "--conf-file=/dev/null"])
            procs.append(dm)
            if _answers(path, DNSMASQ, time.monotonic() + 10):
                targets.append(("dnsmasq", DNSMASQ, ""))
            else:
                print("dnsmasq did not answer; measuring without it", file=sys.stderr)
        else:
            print("dnsmasq not installed (apt-get install dnsmasq-base); measuring without it", file=sys.stderr)
        qfile = os.path.join(tmp.name, "queries.txt")
        Path(qfile).write_text(QUERIES)
        print(f"client: {client}; {args.repeat} x {args.seconds:g} s per server, alternated; netns {name}; "
              f"queries {QUERIES.strip().replace(chr(10), ', ')} over UDP; busy server: {args.busy}; "
              f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        runs: dict[str, dict[str, list[dict[str, float]]]] = {t[0]: {"rate": [], "flat": []} for t in targets}
        # Alternate the servers, run by run, so a burst of load from elsewhere on the machine hits all alike.
        for _ in range(args.repeat):
            for label, addr, source in targets:
                def run(**kw: object) -> dict[str, float]:
                    if client == "dnsperf":
                        return dnsperf(path, addr, qfile, args.seconds, source=source, **kw)  # type: ignore
                    return pyclient(path, addr, args.seconds, source=source, **kw)  # type: ignore
                runs[label]["rate"].append(run(rate=args.rate, inflight=args.inflight))
                runs[label]["flat"].append(run(rate=None, inflight=args.inflight))
        results: dict[str, dict[str, dict[str, float]]] = {}
        for label, by_kind in runs.items():
            results[label] = {kind: {key: statistics.median(r[key] for r in rs) for key in rs[0]}
                              for kind, rs in by_kind.items()}
            flat = sorted(r["qps"] for r in by_kind["flat"])
            p99s = ", ".join(f"{r['p99_ms']:.3f}" for r in by_kind["rate"])
            print(f"{label}: flat-out q/s per run: {', '.join(f'{q:,.0f}' for q in flat)}; "
                  f"p99 ms at {args.rate} q/s per run: {p99s}")
            bad = sum(r.get("not_noerror", 0.0) for rs in by_kind.values() for r in rs)
            if bad:
                print(f"  WARNING: {label} answered {bad:,.0f} queries with another code than NOERROR")
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
        print()
        print(f"{'server':<19} {'fixed ' + str(args.rate) + ' q/s':>22} {'':>10}   "
              f"{'flat out, ' + str(args.inflight) + ' in flight':>34}")
        print(f"{'':<19} {'p50 ms':>10} {'p99 ms':>11} {'lost':>8}   {'q/s':>10} {'mean ms':>10} {'lost':>8}")
        for label, res in results.items():
            r, f = res["rate"], res["flat"]
            print(f"{label:<19} {r['p50_ms']:>10.3f} {r['p99_ms']:>11.3f} {int(r['lost']):>8}   "
                  f"{f['qps']:>10,.0f} {f['mean_ms']:>10.3f} {int(f['lost']):>8}")
        print()
        for label, _, _ in targets[:len(modes)]:
            ours_qps = results[label]["flat"]["qps"]
            for ref in ("aardvark-dns", "dnsmasq"):
                if ref in results:
                    print(f"ratio {label}/{ref} (same run), flat-out q/s: "
                          f"{ours_qps / results[ref]['flat']['qps']:.2f}")
            for peer, qps in PEERS.items():
                print(f"ratio {label}/{peer} (peers' quiet-machine figure): {ours_qps / qps:.2f}")
            p99 = results[label]["rate"]["p99_ms"]
            print(f"{label}: goal p99 < 1 ms at {args.rate} q/s: {'met' if p99 < 1.0 else 'NOT met'} "
                  f"({p99:.3f} ms)")
        if not args.no_setup:
            setup = scope_setup_ms()
            print("add_scope per container, median ms: " + ", ".join(f"{k} {v:.1f}" for k, v in setup.items()))
        return 0
    finally:
        for proc in reversed(procs):
            if proc.stdin:
                proc.stdin.close()
            _stop(proc)
        if aardvark_pid is not None:
            _stop_pid(aardvark_pid)
        netns.remove(name)
        tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
