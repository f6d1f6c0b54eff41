"""Network plumbing timings: network create/remove, sandbox create, connect/disconnect, publish/unpublish,
and the userland proxy's TCP throughput and request latency (loopback -> proxy -> sandbox).

Run as root: ``python bench/network.py [-n 20]``. ``--scaling`` instead times a connect, a disconnect and a
sandbox destroy on a network that already holds 0, 10, 30 and 60 endpoints (what each container of a big project
pays), ``-n`` samples at each size. Everything it makes carries a ``pcb<hex>`` prefix and is
removed at the end. Prints figures; asserts nothing.

``--compare DIR`` measures another checkout too (``git worktree add /tmp/base <rev>``), round by round in a
child process interleaved with ours, and prints both medians and their ratio: the machine is shared, so only
figures taken side by side mean anything.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.environ.get("PYCOMPOSE_BENCH_TREE") or str(Path(__file__).resolve().parents[1]))

from runtime import linux  # noqa: E402
from runtime.network.model import OPT_BRIDGE_NAME  # noqa: E402
from runtime.network.ports import PortBinding  # noqa: E402
from runtime.network.service import NetworkService  # noqa: E402


def _ms(samples: list[float]) -> str:
    samples = sorted(samples)
    p50 = statistics.median(samples) * 1000
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000
    return f"p50 {p50:7.2f} ms  p99 {p99:7.2f} ms"


def _sink_server(netns: str, port: int, ready: threading.Event, stop: threading.Event) -> None:
    fd = os.open(netns, os.O_RDONLY)
    linux.setns(fd, linux.CLONE_NEWNET)
    os.close(fd)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(128)
    srv.settimeout(0.2)
    ready.set()

    def handle(conn: socket.socket) -> None:
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                if data.startswith(b"PING"):
                    conn.sendall(b"PONG")
    while not stop.is_set():
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=handle, args=(conn,), daemon=True).start()
    srv.close()


PUBLISH_IP = os.environ.get("PYCOMPOSE_BENCH_PUBLISH_IP", "127.0.0.1")  # --publish-ip: "" = every address
STEPS = ("network create", "sandbox create", "connect", "publish", "unpublish", "disconnect", "sandbox destroy",
         "network remove")


def _round(svc: NetworkService, prefix: str, i: int) -> list[float]:
    """One pass through a container's network life; the seconds of each step, in ``STEPS`` order."""
    t0 = time.perf_counter()
    net = svc.create(f"{prefix}-{i}", options={OPT_BRIDGE_NAME: f"{prefix}{i}"})
    t1 = time.perf_counter()
    cid = secrets.token_hex(32)
    ns = svc.create_sandbox(cid)
    t2 = time.perf_counter()
    svc.connect(net.name, cid, ns, name=f"c{i}")
    t3 = time.perf_counter()
    svc.publish(cid, [PortBinding(80, host_ip=PUBLISH_IP)])
    t4 = time.perf_counter()
    svc.unpublish(cid)
    t5 = time.perf_counter()
    svc.disconnect(net.name, cid)
    t6 = time.perf_counter()
    svc.destroy_sandbox(cid)
    t7 = time.perf_counter()
    svc.remove(net.name)
    t8 = time.perf_counter()
    return [b - a for a, b in zip((t0, t1, t2, t3, t4, t5, t6, t7), (t1, t2, t3, t4, t5, t6, t7, t8))]


SIZES = (0, 10, 30, 60)
SCALING_STEPS = ("connect", "disconnect", "sandbox destroy")


def _scaling(svc: NetworkService, prefix: str, samples: int, tag: str = "s") -> dict[str, list[float]]:
    """Seconds of a connect / disconnect / sandbox destroy of one more container on a network holding each of
    ``SIZES`` endpoints: keys ``"<size> <step>"``. Everything made here is removed before it returns."""
    net = svc.create(f"{prefix}-{tag}", options={OPT_BRIDGE_NAME: f"{prefix}{tag}"})
    held: list[str] = []
    out: dict[str, list[float]] = {}
    try:
        for size in SIZES:
            while len(held) < size:
                cid = secrets.token_hex(32)
                held.append(cid)
                svc.connect(net.name, cid, svc.create_sandbox(cid))
            for _ in range(samples):
                cid = secrets.token_hex(32)
                ns = svc.create_sandbox(cid)
                t0 = time.perf_counter()
                svc.connect(net.name, cid, ns)
                t1 = time.perf_counter()
                svc.disconnect(net.name, cid)
                t2 = time.perf_counter()
                svc.connect(net.name, cid, ns)
                t3 = time.perf_counter()
                svc.destroy_sandbox(cid)  # with its endpoint, as a container removal does
                t4 = time.perf_counter()
                for step, took in zip(SCALING_STEPS, (t1 - t0, t2 - t1, t4 - t3)):
                    out.setdefault(f"{size} {step}", []).append(took)
    finally:
        for cid in held:
            svc.destroy_sandbox(cid)
        svc.remove(net.name)
    return out


def _service(tmp: Path, prefix: str) -> NetworkService:
    return NetworkService(tmp / "root", tmp / "run", nft_table=prefix, enable_ip_forward=False)


def _cleanup(svc: NetworkService) -> None:
    for cid in svc.netns.list():
        svc.destroy_sandbox(cid)
    for n in svc.list({"type": ["custom"]}):
        svc.remove(n.id)
    close = getattr(svc, "close", None)  # an older tree compared against may not have it
    if close is not None:
        close()


def _worker(scaling: int = 0) -> None:
    """``--worker``: one round per line read on stdin, its timings as a JSON line on stdout (with
    ``--scaling N``: one scaling sweep of N samples per size per line)."""
    prefix = "pcb" + secrets.token_hex(3)
    svc = _service(Path(tempfile.mkdtemp(prefix="pycompose-bench-")), prefix)
    try:
        for i, _line in enumerate(sys.stdin):
            result = _scaling(svc, prefix, scaling, f"w{i}") if scaling else _round(svc, prefix, i)
            print(json.dumps(result), flush=True)
    finally:
        _cleanup(svc)


def _compare_scaling(tree: str, samples: int, sweeps: int = 3) -> None:
    """Scaling sweeps of this tree and of ``tree`` (in a child process), alternated ``sweeps`` times."""
    import subprocess

    prefix = "pcb" + secrets.token_hex(3)
    svc = _service(Path(tempfile.mkdtemp(prefix="pycompose-bench-")), prefix)
    other = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker", "--scaling",
                              "-n", str(samples)], text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             env={**os.environ, "PYCOMPOSE_BENCH_TREE": tree})
    assert other.stdin is not None and other.stdout is not None
    ours: dict[str, list[float]] = {}
    theirs: dict[str, list[float]] = {}
    loads = []
    try:
        for i in range(sweeps):
            loads.append(os.getloadavg()[0])
            other.stdin.write("go\n")
            other.stdin.flush()
            for key, values in json.loads(other.stdout.readline()).items():
                theirs.setdefault(key, []).extend(values)
            for key, values in _scaling(svc, prefix, samples, f"s{i}").items():
                ours.setdefault(key, []).extend(values)
    finally:
        other.stdin.close()
        other.wait()
        _cleanup(svc)
    print(f"load average {min(loads):.2f}-{max(loads):.2f}; p50 ms by endpoints already on the network, "
          f"this tree vs {tree}, {sweeps} alternated sweeps of {samples} samples")
    for key in ours:
        a, b = statistics.median(ours[key]) * 1000, statistics.median(theirs[key]) * 1000
        print(f"{key:22s} {a:8.2f} vs {b:8.2f}   ratio {a / b:5.2f}")


def _compare(tree: str, rounds: int) -> None:
    import subprocess

    prefix = "pcb" + secrets.token_hex(3)
    svc = _service(Path(tempfile.mkdtemp(prefix="pycompose-bench-")), prefix)
    other = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker"], text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             env={**os.environ, "PYCOMPOSE_BENCH_TREE": tree})
    assert other.stdin is not None and other.stdout is not None
    ours: list[list[float]] = []
    theirs: list[list[float]] = []
    try:
        for i in range(rounds):
            other.stdin.write("go\n")
            other.stdin.flush()
            theirs.append(json.loads(other.stdout.readline()))
            ours.append(_round(svc, prefix, i))
    finally:
        other.stdin.close()
        other.wait()
        _cleanup(svc)
    print(f"load average {os.getloadavg()[0]:.2f}; p50 ms, this tree vs {tree}, {rounds} interleaved rounds")
    for k, step in enumerate(STEPS):
        a = statistics.median(r[k] for r in ours) * 1000
        b = statistics.median(r[k] for r in theirs) * 1000
        print(f"{step:16s} {a:8.2f} vs {b:8.2f}   ratio {a / b:5.2f}")


def main() -> None:
    global PUBLISH_IP
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20, help="repetitions of each step")
    ap.add_argument("--mb", type=int, default=200, help="megabytes pushed through the proxy")
    ap.add_argument("--compare", metavar="DIR", help="another pycompose checkout to measure side by side")
    ap.add_argument("--scaling", action="store_true", help="connect/disconnect/destroy vs endpoints on the network")
    ap.add_argument("--publish-ip", default=PUBLISH_IP,
                    help='host IP of the published port (default 127.0.0.1: the proxy alone; "" = every address, '
                         "as -p 80, with kernel DNAT beside the proxy)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    PUBLISH_IP = os.environ["PYCOMPOSE_BENCH_PUBLISH_IP"] = args.publish_ip  # a --compare worker inherits it
    if args.worker:
        return _worker(args.n if args.scaling else 0)
    if args.compare:
        return _compare_scaling(args.compare, args.n) if args.scaling else _compare(args.compare, args.n)
    if args.scaling:
        prefix = "pcb" + secrets.token_hex(3)
        svc = _service(Path(tempfile.mkdtemp(prefix="pycompose-bench-")), prefix)
        try:
            print(f"load average {os.getloadavg()[0]:.2f}; by endpoints already on the network")
            for key, samples in _scaling(svc, prefix, args.n).items():
                print(f"{key:22s} {_ms(samples)}")
        finally:
            _cleanup(svc)
        return None
    prefix = "pcb" + secrets.token_hex(3)
    tmp = Path(tempfile.mkdtemp(prefix="pycompose-bench-"))
    svc = _service(tmp, prefix)
    times: dict[str, list[float]] = {k: [] for k in STEPS}
    try:
        for i in range(args.n):
            for key, took in zip(STEPS, _round(svc, prefix, i)):
                times[key].append(took)
        for key, samples in times.items():
            print(f"{key:16s} {_ms(samples)}")

        net = svc.create(f"{prefix}-tp", options={OPT_BRIDGE_NAME: f"{prefix}tp"})
        cid = secrets.token_hex(32)
        ns = svc.create_sandbox(cid)
        ep = svc.connect(net.name, cid, ns)
        ready, stop = threading.Event(), threading.Event()
        threading.Thread(target=_sink_server, args=(str(ns), 9000, ready, stop), daemon=True).start()
        ready.wait(5)
        (port,) = svc.publish(cid, [PortBinding(9000, host_ip="127.0.0.1")])
        lat = []
        with socket.create_connection(("127.0.0.1", port.host_port)) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for _ in range(2000):
                t = time.perf_counter()
                s.sendall(b"PING")
                s.recv(16)
                lat.append(time.perf_counter() - t)
        print(f"proxy round trip {_ms(lat)}  (direct to {ep.ip} would skip the proxy)")
        chunk = b"x" * 65536
        total = args.mb * 1024 * 1024
        with socket.create_connection(("127.0.0.1", port.host_port)) as s:
            t = time.perf_counter()
            sent = 0
            while sent < total:
                s.sendall(chunk)
                sent += len(chunk)
            s.shutdown(socket.SHUT_WR)
            s.recv(1)
            dt = time.perf_counter() - t
        print(f"proxy throughput {total / dt / 1e6:8.1f} MB/s")
        stop.set()
        svc.destroy_sandbox(cid)
        svc.remove(net.name)
    finally:
        _cleanup(svc)


if __name__ == "__main__":
    main()
