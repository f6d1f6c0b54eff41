"""Pull throughput from a local registry vs a raw loopback copy of the same bytes.

Starts Debian's docker-registry on 127.0.0.1 (free port, temp storage), pushes an image with several layers of
random (incompressible) data, then:
  raw    - a Python socket server sends the same blob bytes over loopback TCP; the client reads and discards
  fetch  - the blobs downloaded with our registry session and hashed (no unpack)
  pull   - a full ``pull`` into an empty store: download, verify, decompress and unpack every layer
Prints MB/s for each and the ratio pull/raw (goal: >= 0.5). A pull writes every byte twice (the compressed blob,
kept for push/save with its digest, and the unpacked files); on a busy shared machine page-cache writes dominate,
so the CPU-time figure is printed too.

Usage: python bench/pull.py [--layers N] [--mb-per-layer M] [--runs R]
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.images import ImageStore  # noqa: E402
from runtime.images.registry import RegistryConfig, pull, push  # noqa: E402
from runtime.images.registry.session import RegistrySession  # noqa: E402

REGISTRY = "/usr/bin/docker-registry"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_registry(base: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    (base / "storage").mkdir(parents=True)
    (base / "config.yml").write_text(
        f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {base / 'storage'}\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: bench\n")
    proc = subprocess.Popen([REGISTRY, "serve", str(base / "config.yml")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/v2/", timeout=0.5).status_code == 200:
                return proc, f"127.0.0.1:{port}"
        except requests.ConnectionError:
            pass
        time.sleep(0.02)
    proc.kill()
    raise SystemExit("docker-registry did not start")


def make_layer(mb: int, seed: int, kind: str = "random") -> bytes:
    """A gzip layer tar of ``mb`` MiB in 4 MiB files (gzip level 1, quick to build): incompressible data, or
    text-like data (hex of random bytes, ~2:1) closer to real images."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for i in range(max(1, mb // 4)):
            if kind == "text":
                data = hashlib.shake_256(f"{seed}-{i}".encode()).hexdigest(2 << 20).encode()
            else:
                data = hashlib.shake_256(f"{seed}-{i}".encode()).digest(4 << 20)
            info = tarfile.TarInfo(f"data/{seed}/f{i}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=1)


def raw_copy_mbps(blobs: list[Path]) -> float:
    """Loopback TCP copy of the blob files in Python: server reads and sends, client reads and discards."""
    total = sum(p.stat().st_size for p in blobs)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            for p in blobs:
                with open(p, "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        conn.sendall(chunk)

    t = threading.Thread(target=serve)
    t.start()
    start = time.perf_counter()
    got = 0
    with socket.create_connection(srv.getsockname()) as c:
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        while got < total:
            n = c.recv_into(view)
            if not n:
                break
            got += n
    elapsed = time.perf_counter() - start
    t.join()
    srv.close()
    assert got == total
    return total / elapsed / 1e6


def fetch_mbps(host: str, repo: str, digests: list[str], sizes: int) -> float:
    cfg = RegistryConfig()
    session = RegistrySession(cfg.endpoints(host)[-1], None)
    start = time.perf_counter()
    for d in digests:
        resp = session.request("GET", f"/v2/{repo}/blobs/{d}", stream=True)
        h = hashlib.sha256()
        for chunk in resp.iter_content(1 << 20):
            h.update(chunk)
        assert "sha256:" + h.hexdigest() == d
    elapsed = time.perf_counter() - start
    session.close()
    return sizes / elapsed / 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--mb-per-layer", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--data", choices=("random", "text"), default="random",
                    help="layer content: incompressible, or text-like (~2:1 with gzip)")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="pycompose-bench-pull-"))
    proc, host = start_registry(base / "registry")
    try:
        src = ImageStore(base / "src")
        ref = f"{host}/bench/big:latest"
        image = None
        for i in range(args.layers):
            image = src.commit(image, io.BytesIO(make_layer(args.mb_per_layer, i, args.data)), None,
                               ref if i == args.layers - 1 else None)
        push(src, ref)
        digests = [b.digest for b in image.blobs]
        total = sum(b.size for b in image.blobs)
        blob_files = [base / "registry/storage/docker/registry/v2/blobs/sha256" / d[7:9] / d[7:] / "data"
                      for d in digests]
        raw = [raw_copy_mbps(blob_files) for _ in range(args.runs)]
        fetch = [fetch_mbps(host, "bench/big", digests, total) for _ in range(args.runs)]
        pulls, cpu = [], []
        for r in range(args.runs):
            dest = ImageStore(base / f"dest{r}")
            before = resource.getrusage(resource.RUSAGE_SELF)
            start = time.perf_counter()
            pull(dest, ref)
            pulls.append(total / (time.perf_counter() - start) / 1e6)
            after = resource.getrusage(resource.RUSAGE_SELF)
            used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            cpu.append(total / used / 1e6)
            shutil.rmtree(base / f"dest{r}")
        raw_m, fetch_m, pull_m = statistics.median(raw), statistics.median(fetch), statistics.median(pulls)
        print(f"image: {args.layers} layers, {total / 1e6:.1f} MB compressed ({args.data} data)")
        print(f"raw loopback copy : {raw_m:8.1f} MB/s")
        print(f"registry fetch    : {fetch_m:8.1f} MB/s  (download + sha256, no unpack)")
        print(f"pycompose pull    : {pull_m:8.1f} MB/s  (download, verify, gunzip, unpack)")
        print(f"pull per CPU-sec  : {statistics.median(cpu):8.1f} MB/s  (our process's user+sys time; "
              "the rest of the wall time is waiting on the registry and on page-cache writes)")
        print(f"ratio pull/raw    : {pull_m / raw_m:8.2f}  (goal >= 0.5)")
        print(f"ratio fetch/raw   : {fetch_m / raw_m:8.2f}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
