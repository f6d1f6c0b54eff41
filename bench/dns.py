#!/usr/bin/env python3
"""Embedded DNS bench: queries/s and p50/p99 latency from inside a netns, beside dnsmasq on the same machine.

Run as root: ``.venv/bin/python bench/dns.py [--seconds 3] [--repeat 3] [--rate 5000] [--inflight 20]
[--mode redirect|direct]``.
Needs Debian's ``dnsmasq-base`` and ``dnsperf`` (``apt-get install -y dnsmasq-base dnsperf``); without them
it measures the embedded server alone and/or with its own Python client.

What it does, all inside one fresh netns ``pct-<hex>`` (removed at the end):

- starts the embedded server (runtime.network.dns.DnsServer) in a child process of its own, as the daemon
  runs it: one asyncio loop, a scope for a "client" container, names web / api (3 replicas), answering on
  127.0.0.11:53 in the netns (``--mode redirect``, the default: via nftables DNAT to a free port; ``direct``:
  bound to port 53 itself);
- starts Debian's dnsmasq on 127.0.0.12:53 in the same netns with the same names (``--host-record``),
  ``--no-resolv --no-hosts``, and stops it by its PID;
- asks both with dnsperf (the tool the peers were measured with, shared/peers/32-dns-test.sh) when it is
  installed, else with a small Python client (then the client, not the server, may be the limit):
  1. a fixed rate (``--rate``, default 5,000 q/s): p50 / p99 latency from dnsperf's per-query report;
  2. flat out with ``--inflight`` (20) queries outstanding: queries/s, mean latency;
- alternates the two servers run by run (``--repeat``) and prints medians, so load from elsewhere on the
  machine hits both alike; then a table and the ratios to dnsmasq and to the peers' figures (aardvark-dns
  80,265 q/s and Docker 70,648 q/s, dnsperf with 20 in flight, measured on this machine).
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
OURS = "127.0.0.11"
DNSMASQ = "127.0.0.12"
CLIENT_ID = "c" * 64


# -- the embedded server, in a child process ---------------------------------------------------------------

def serve(netns_path: str, redirect: bool) -> None:
    """Child: run the DNS server until stdin closes; print 'ready' once it listens."""
    import asyncio

    from runtime.network.dns import DnsServer

    async def _main() -> None:
        server = DnsServer()
        rec = server.records
        rec.set_network_name("n1", "bench_default")
        rec.add_endpoint("n1", "a" * 64, "bench-web-1", aliases=["web"], ipv4="10.88.0.2")
        for i in range(3):
            rec.add_endpoint("n1", f"{i}" * 64, f"bench-api-{i + 1}", aliases=["api"], ipv4=f"10.88.0.{10 + i}")
        rec.add_endpoint("n1", CLIENT_ID, "bench-client-1", ipv4="10.88.0.4")
        await server.add_scope(CLIENT_ID, netns_path, upstreams=[], redirect=redirect)
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


def _answers(netns_path: str, server: str, deadline: float) -> bool:
    """Poll until ``server`` answers an A query for 'web' (or the deadline passes)."""
    sock = _in_netns(netns_path, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    query = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\x03web\x00\x00\x01\x00\x01"
    with sock:
        sock.settimeout(0.05)
        while time.monotonic() < deadline:
            sock.sendto(query, (server, 53))
            try:
                if sock.recv(512)[:2] == b"\x00\x07":
                    return True
            except OSError:
                continue
    return False


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
            inflight: int) -> dict[str, float]:
    cmd = ["nsenter", f"--net={netns_path}", "dnsperf", "-s", server, "-d", qfile, "-l", str(seconds),
           "-q", str(inflight)]
    if rate:
        cmd += ["-Q", str(rate), "-v"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    res: dict[str, float] = {}
    m = re.search(r"Queries per second:\s+([\d.]+)", out)
    res["qps"] = float(m.group(1)) if m else float("nan")
    m = re.search(r"Queries lost:\s+(\d+)", out)
    res["lost"] = float(m.group(1)) if m else float("nan")
    m = re.search(r"Average Latency \(s\):\s+([\d.]+)", out)
    res["mean_ms"] = float(m.group(1)) * 1000 if m else float("nan")
    if rate:
        lat = [float(x) * 1000 for x in re.findall(r"^> \S+ \S+ \S+ ([\d.]+)$", out, re.M)]
        res["p50_ms"], res["p99_ms"] = _pct(lat, 0.50), _pct(lat, 0.99)
    return res


def pyclient(netns_path: str, server: str, seconds: float, *, rate: int | None, inflight: int) -> dict[str, float]:
    """Fallback client: UDP, ``inflight`` outstanding (or a fixed ``rate``), ids matched to send times."""
    sock = _in_netns(netns_path, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
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

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rate", type=int, default=5000)
    ap.add_argument("--inflight", type=int, default=20)
    ap.add_argument("--client", choices=["auto", "dnsperf", "python"], default="auto")
    ap.add_argument("--repeat", type=int, default=3, help="runs per server, alternated; medians are printed")
    ap.add_argument("--mode", choices=["redirect", "direct"], default="redirect",
                    help="redirect: the default (free port + nftables DNAT of 127.0.0.11:53); direct: bind :53")
    ap.add_argument("--serve", metavar="NETNS", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.mode == "redirect")
        return 0
    if os.geteuid() != 0:
        print("bench/dns.py needs root (network namespaces)", file=sys.stderr)
        return 2
    from pyroute2 import IPRoute, netns

    client = args.client
    if client == "auto":
        client = "dnsperf" if shutil.which("dnsperf") else "python"
    have_dnsmasq = shutil.which("dnsmasq") is not None
    name = f"pct-{secrets.token_hex(3)}"
    netns.create(name)
    path = f"/var/run/netns/{name}"
    procs: list[subprocess.Popen] = []
    tmp = tempfile.TemporaryDirectory(prefix="pycompose-dnsbench-")
    try:
        with IPRoute(netns=name) as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        serve_cmd = [sys.executable, __file__, "--serve", path, "--mode", args.mode]
        ours = subprocess.Popen(serve_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(ours)
        if ours.stdout is None or ours.stdout.readline().strip() != "ready":
            print("embedded DNS server did not start", file=sys.stderr)
            return 1
        targets = [("pycompose", OURS)]
        if have_dnsmasq:
            dm = subprocess.Popen(["nsenter", f"--net={path}", "dnsmasq", "--keep-in-foreground", "--no-resolv",
                                   "--no-hosts", f"--listen-address={DNSMASQ}", "--bind-interfaces", "--port=53",
                                   "--host-record=web,10.88.0.2", "--host-record=api,10.88.0.10",
                                   "--user=root", "--pid-file=", "--conf-file=/dev/null"])
            procs.append(dm)
            if _answers(path, DNSMASQ, time.monotonic() + 10):
                targets.append(("dnsmasq", DNSMASQ))
            else:
                print("dnsmasq did not answer; measuring pycompose alone", file=sys.stderr)
        else:
            print("dnsmasq not installed (apt-get install dnsmasq-base); measuring pycompose alone", file=sys.stderr)
        if not _answers(path, OURS, time.monotonic() + 10):
            print("embedded DNS server does not answer", file=sys.stderr)
            return 1
        qfile = os.path.join(tmp.name, "queries.txt")
        Path(qfile).write_text("web A\n")
        print(f"client: {client}; {args.repeat} x {args.seconds:g} s per server and mode, alternated; "
              f"netns {name}; query 'web A' over UDP; {args.mode} mode; "
              f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        results: dict[str, dict[str, dict[str, float]]] = {}
        runs: dict[str, dict[str, list[dict[str, float]]]] = {label: {"rate": [], "flat": []} for label, _ in targets}
        # Alternate the servers, run by run, so a burst of load from elsewhere on the machine hits both alike.
        for _ in range(args.repeat):
            for label, addr in targets:
                def run(**kw: object) -> dict[str, float]:
                    if client == "dnsperf":
                        return dnsperf(path, addr, qfile, args.seconds, **kw)  # type: ignore[arg-type]
                    return pyclient(path, addr, args.seconds, **kw)  # type: ignore[arg-type]
                runs[label]["rate"].append(run(rate=args.rate, inflight=args.inflight))
                runs[label]["flat"].append(run(rate=None, inflight=args.inflight))
        for label, by_kind in runs.items():
            results[label] = {kind: {key: statistics.median(r[key] for r in rs) for key in rs[0]}
                              for kind, rs in by_kind.items()}
            flat = sorted(r["qps"] for r in by_kind["flat"])
            print(f"{label}: flat-out q/s per run: {', '.join(f'{q:,.0f}' for q in flat)}")
        print()
        print(f"{'server':<11} {'fixed ' + str(args.rate) + ' q/s':>22} {'':>10}   "
              f"{'flat out, ' + str(args.inflight) + ' in flight':>34}")
        print(f"{'':<11} {'p50 ms':>10} {'p99 ms':>11} {'lost':>8}   {'q/s':>10} {'mean ms':>10} {'lost':>8}")
        for label, res in results.items():
            r, f = res["rate"], res["flat"]
            print(f"{label:<11} {r['p50_ms']:>10.3f} {r['p99_ms']:>11.3f} {int(r['lost']):>8}   "
                  f"{f['qps']:>10,.0f} {f['mean_ms']:>10.3f} {int(f['lost']):>8}")
        ours_qps = results["pycompose"]["flat"]["qps"]
        print()
        if "dnsmasq" in results:
            print(f"ratio pycompose/dnsmasq, flat-out q/s: {ours_qps / results['dnsmasq']['flat']['qps']:.2f}")
        for peer, qps in PEERS.items():
            print(f"ratio pycompose/{peer} (peers' dnsperf figure, 20 in flight): {ours_qps / qps:.2f}")
        setup = scope_setup_ms()
        print("add_scope per container, median ms: " + ", ".join(f"{k} {v:.1f}" for k, v in setup.items()))
        p99 = results["pycompose"]["rate"]["p99_ms"]
        print(f"goal p99 < 1 ms at {args.rate} q/s: {'met' if p99 < 1.0 else 'NOT met'} ({p99:.3f} ms)")
        return 0
    finally:
        for proc in reversed(procs):
            if proc.stdin:
                proc.stdin.close()
            _stop(proc)
        netns.remove(name)
        tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
