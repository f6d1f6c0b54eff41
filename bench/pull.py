"""Pull throughput from a local registry, against two baselines moving the same bytes over the same loopback.

Setup (once per run of this script, ~10-20 s): a realistic 4-layer image is generated and pushed over plain HTTP to
Debian's ``docker-registry``, started here on 127.0.0.1 (free port, temp storage) and stopped by its PID:
  base   - an OS-like layer: ~2500 small text files (1-16 kB) and 60 binaries (100-400 kB)
  libs   - 200 binary-like files (50-800 kB; ~2:1 with gzip) and 400 text files
  data   - 4 x 25 MB incompressible files (packed assets, a model)
  app    - 800 small source files, a few symlinks
~240 MB unpacked, gzip level 6 as Docker's push writes it (``--compression zstd`` for zstd layers).

Then, ``--runs`` rounds, each measuring in turn (interleaved, so a change of load hits every figure alike):
  (a) raw    - a Python socket server sends the blob bytes over loopback TCP; the client reads and discards them
  (b) GET    - plain HTTP GETs of the same blobs from the same registry, written into files (no hashing, no
               unpacking): the least any client has to do. ``GET x1`` one blob after the other, ``GET xN`` as many
               at once as the pull downloads (``max_concurrent_downloads``)
  (c) pull   - ``runtime.images.registry.pull`` into an empty store: download, verify every digest, decompress,
               unpack, record
  (d) floor  - the work no verified pull can skip, on one core, in memory: sha256 of each blob, decompressing it
               (the pull's own decompressor) and sha256 of the tar. Its rate times the number of CPUs bounds any pull
               on this machine, however it is written; the script prints that bound beside the issue's goal.
Prints every run, the medians in MB/s of compressed bytes, the ratios pull/(a) and pull/(b), the CPU time of our
process and of the registry, and the load average (other work on the machine skews every figure: read them side by
side). Dirty pages of the previous round are written back (``sync``) before each round. Once per run it also probes
what creating a small file costs in ``--root`` (the image has thousands), in a plain directory and in one below a
directory flagged as the layer store's (``chattr +T``): on ext4 without a journal the plain cost grows with files
recently deleted near the directory (``/tmp`` on a busy machine: 0.2-0.8 ms per file, 20-40x the flagged one).

Usage: python bench/pull.py [--runs R] [--scale S] [--compression gzip|zstd]
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import random
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.images import ImageStore  # noqa: E402
from runtime.images.registry import RegistryConfig, pull  # noqa: E402

REGISTRY = "/usr/bin/docker-registry"
REPO = "bench/realistic"
_LAYERS = (  # name, [(kind, count, min size, max size)]
    ("base", [("text", 2500, 1_000, 16_000), ("bin", 60, 100_000, 400_000)]),
    ("libs", [("bin", 200, 50_000, 800_000), ("text", 400, 2_000, 30_000)]),
    ("data", [("rand", 4, 25_000_000, 25_000_000)]),
    ("app", [("text", 800, 500, 8_000)]),
)


# ---- the image -------------------------------------------------------------------------------------------------
def _text_pool(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    words = [hashlib.shake_256(f"w{seed}-{i}".encode()).hexdigest(rng.randint(2, 6)) for i in range(3000)]
    return [(" ".join(rng.choices(words, k=rng.randint(3, 12))) + "\n").encode() for _ in range(4000)]


def _text(rng: random.Random, pool: list[bytes], size: int) -> bytes:
    out, n = [], 0
    while n < size:
        line = pool[rng.randrange(len(pool))]
        out.append(line)
        n += len(line)
    return b"".join(out)[:size]


def _binary(rng: random.Random, seed: str, size: int) -> bytes:
    """Machine-code-like: random runs, zero runs and near repeats (~2:1 with gzip, like shared libraries)."""
    out, i = bytearray(), 0
    while len(out) < size:
        k = rng.random()
        if k < 0.3:
            out += hashlib.shake_256(f"b{seed}-{i}".encode()).digest(rng.randint(64, 1024))
        elif k < 0.45:
            out += bytes(rng.randint(8, 256))
        elif len(out) > 4096:
            start = len(out) - rng.randint(64, 16384)
            out += out[start:start + rng.randint(16, 512)]
        i += 1
    return bytes(out[:size])


def make_layer_tar(name: str, spec: list[tuple[str, int, int, int]], seed: int, scale: float) -> bytes:
    rng = random.Random(seed)
    pool = _text_pool(seed)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        made: set[str] = set()

        def mkdir(path: str) -> None:
            if path not in made:
                info = tarfile.TarInfo(path)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
                tar.addfile(info)
                made.add(path)

        for kind, count, low, high in spec:
            for i in range(max(1, int(count * scale)) if kind != "rand" else count):
                top = f"{name}/{kind}"
                sub = f"{top}/d{i % 40}"
                mkdir(name), mkdir(top), mkdir(sub)
                size = rng.randint(low, high) if kind != "rand" else max(1 << 20, int(low * scale))
                if kind == "text":
                    data = _text(rng, pool, size)
                elif kind == "bin":
                    data = _binary(rng, f"{seed}-{i}", size)
                else:
                    data = hashlib.shake_256(f"x{seed}-{i}".encode()).digest(size)
                info = tarfile.TarInfo(f"{sub}/f{i}")
                info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
                tar.addfile(info, io.BytesIO(data))
                if kind == "text" and i % 100 == 0:
                    link = tarfile.TarInfo(f"{sub}/link{i}")
                    link.type, link.linkname, link.mtime = tarfile.SYMTYPE, f"f{i}", 1_700_000_000
                    tar.addfile(link)
    return raw.getvalue()


def _compress(data: bytes, compression: str) -> bytes:
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(level=3).compress(data)
    return gzip.compress(data, compresslevel=6, mtime=0)  # Docker's push: Go's gzip at its default level


def build_image(scale: float, compression: str) -> tuple[list[bytes], list[str], int, list[int]]:
    """(compressed layer blobs, diff ids, unpacked bytes, entries per layer). Compression runs on both cores."""
    tars = [make_layer_tar(name, spec, seed, scale) for seed, (name, spec) in enumerate(_LAYERS)]
    with ThreadPoolExecutor(max_workers=2) as pool:  # zlib/zstd release the GIL
        blobs = list(pool.map(lambda t: _compress(t, compression), tars))
    diff_ids = ["sha256:" + hashlib.sha256(t).hexdigest() for t in tars]
    entries = []
    for t in tars:
        with tarfile.open(fileobj=io.BytesIO(t)) as tar:
            entries.append(len(tar.getmembers()))
    return blobs, diff_ids, sum(len(t) for t in tars), entries


# ---- the registry ----------------------------------------------------------------------------------------------
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
    while time.monotonic() < deadline:  # poll the condition (registry answers) with a deadline
        try:
            if requests.get(f"http://127.0.0.1:{port}/v2/", timeout=0.5).status_code == 200:
                return proc, f"127.0.0.1:{port}"
        except requests.ConnectionError:
            pass
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    raise SystemExit("docker-registry did not start")


def _upload(http: requests.Session, host: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    resp = http.post(f"http://{host}/v2/{REPO}/blobs/uploads/")
    resp.raise_for_status()
    location = resp.headers["Location"]
    if location.startswith("/"):
        location = f"http://{host}{location}"
    sep = "&" if "?" in location else "?"
    http.put(f"{location}{sep}digest={digest}", data=data,
             headers={"Content-Type": "application/octet-stream"}).raise_for_status()
    return digest


def push_image(host: str, blobs: list[bytes], diff_ids: list[str], compression: str) -> tuple[str, list[str]]:
    """Push with plain HTTP (monolithic uploads, then the manifest): the image as a registry would hold it."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids},
                         "history": [{"created_by": f"layer {i}"} for i in range(len(blobs))]}).encode()
    media = ("application/vnd.oci.image.layer.v1.tar+zstd" if compression == "zstd"
             else "application/vnd.docker.image.rootfs.diff.tar.gzip")
    with requests.Session() as http:
        digests = [_upload(http, host, b) for b in blobs]
        config_digest = _upload(http, host, config)
        manifest_type = ("application/vnd.oci.image.manifest.v1+json" if compression == "zstd"
                         else "application/vnd.docker.distribution.manifest.v2+json")
        config_type = ("application/vnd.oci.image.config.v1+json" if compression == "zstd"
                       else "application/vnd.docker.container.image.v1+json")
        manifest = {"schemaVersion": 2, "mediaType": manifest_type,
                    "config": {"mediaType": config_type, "digest": config_digest, "size": len(config)},
                    "layers": [{"mediaType": media, "digest": d, "size": len(b)} for d, b in zip(digests, blobs)]}
        http.put(f"http://{host}/v2/{REPO}/manifests/latest", data=json.dumps(manifest).encode(),
                 headers={"Content-Type": manifest_type}).raise_for_status()
    return f"{host}/{REPO}:latest", digests


# ---- the measurements ------------------------------------------------------------------------------------------
def raw_copy(blob_files: list[Path], total: int) -> float:
    """(a) Loopback TCP copy in Python: a server thread reads the blob files and sends; we read and discard."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            for p in blob_files:
                with open(p, "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        conn.sendall(chunk)

    t = threading.Thread(target=serve)
    t.start()
    start = time.perf_counter()
    got = 0
    with socket.create_connection(srv.getsockname()) as c:
        view = memoryview(bytearray(1 << 20))
        while got < total:
            n = c.recv_into(view)
            if not n:
                break
            got += n
    elapsed = time.perf_counter() - start
    t.join()
    srv.close()
    assert got == total, (got, total)
    return elapsed


def http_get(host: str, digests: list[str], dest: Path, workers: int) -> float:
    """(b) Plain HTTP GETs of the blobs from the registry into files, ``workers`` at once."""
    dest.mkdir()

    def get(http: requests.Session, digest: str) -> None:
        with http.get(f"http://{host}/v2/{REPO}/blobs/{digest}", stream=True) as resp:
            resp.raise_for_status()
            with open(dest / digest[7:], "wb") as out:
                for chunk in resp.iter_content(1 << 20):
                    out.write(chunk)

    sessions = [requests.Session() for _ in range(workers)]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda i: get(sessions[i % workers], digests[i]), range(len(digests))))
    elapsed = time.perf_counter() - start
    for s in sessions:
        s.close()
    return elapsed


def floor_cpu(blob_files: list[Path]) -> float:
    """(d) CPU seconds of one thread hashing each blob, decompressing it and hashing the tar, from memory."""
    from runtime.images.unpack import open_decompressed

    blobs = [p.read_bytes() for p in blob_files]
    start = time.thread_time()
    for blob in blobs:
        view = memoryview(blob)
        outer = hashlib.sha256()
        for i in range(0, len(blob), 1 << 20):
            outer.update(view[i:i + (1 << 20)])
        inner = hashlib.sha256()
        tar = open_decompressed(io.BytesIO(blob))
        while chunk := tar.read(1 << 20):
            inner.update(chunk)
    return time.thread_time() - start


def create_probe(root: Path, top: bool, count: int = 2000) -> float:
    """Microseconds to create, fill (4 kB) and close one file in a new directory under ``root`` (``top``: under a
    directory flagged as the layer store flags its own, see ``runtime.images.layers``)."""
    from runtime.fsflags import mark_top_directory

    parent = Path(tempfile.mkdtemp(prefix="probe-", dir=root))
    if top:
        mark_top_directory(parent)
    where = Path(tempfile.mkdtemp(dir=parent))
    data = bytes(4096)
    start = time.perf_counter()
    for i in range(count):
        fd = os.open(where / f"f{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, data)
        os.close(fd)
    return (time.perf_counter() - start) / count * 1e6


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _measured(fn: Callable[[], float | None], registry_pid: int) -> tuple[float, float, float]:
    """(seconds, our CPU seconds, registry CPU seconds) of one call."""
    cpu0, reg0, start = _self_cpu(), _cpu_of(registry_pid), time.perf_counter()
    inner = fn()
    elapsed = inner if inner is not None else time.perf_counter() - start
    return elapsed, _self_cpu() - cpu0, _cpu_of(registry_pid) - reg0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply file counts and sizes")
    ap.add_argument("--compression", choices=("gzip", "zstd"), default="gzip")
    ap.add_argument("--root", help="directory for the registry, the GET files and the stores (default: a temp dir; "
                                   "e.g. /dev/shm to take the file system's cost out)")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="pycompose-bench-pull-", dir=args.root))
    proc, host = start_registry(base / "registry")
    try:
        t0 = time.perf_counter()
        blobs, diff_ids, unpacked, n_files = build_image(args.scale, args.compression)
        ref, digests = push_image(host, blobs, diff_ids, args.compression)
        total = sum(len(b) for b in blobs)
        del blobs
        print(f"image: {len(digests)} layers, {total / 1e6:.1f} MB {args.compression} -> {unpacked / 1e6:.1f} MB "
              f"unpacked (made and pushed in {time.perf_counter() - t0:.1f} s); {os.cpu_count()} CPUs")
        blob_files = [base / "registry/storage/docker/registry/v2/blobs/sha256" / d[7:9] / d[7:] / "data"
                      for d in digests]
        workers = RegistryConfig().max_concurrent_downloads
        names = ("(a) raw loopback", "(b) GET x1", f"(b) GET x{workers}", "(c) pull", "(d) floor, 1 CPU")
        results: dict[str, list[tuple[float, float, float]]] = {n: [] for n in names}
        loads = []
        for r in range(args.runs):
            os.sync()  # write back the previous round's files now, not during the next measurement
            loads.append(os.getloadavg()[0])
            results[names[0]].append(_measured(lambda: raw_copy(blob_files, total), proc.pid))
            results[names[1]].append(_measured(lambda: http_get(host, digests, base / f"get{r}", 1), proc.pid))
            results[names[2]].append(_measured(lambda: http_get(host, digests, base / f"getn{r}", workers),
                                               proc.pid))
            os.sync()
            dest = base / f"store{r}"
            results[names[3]].append(_measured(lambda: pull(ImageStore(dest), ref) and None, proc.pid))
            results[names[4]].append(_measured(lambda: floor_cpu(blob_files), proc.pid))
            # stores stay until the end: on ext4 without a journal, inodes freed in the last seconds make the
            # allocator search (``recently_deleted``), so removing one run's files would slow the next run
            print(f"run {r + 1}: load {loads[-1]:.2f}  " + "  ".join(
                f"{n.split(') ')[1]} {total / results[n][-1][0] / 1e6:.0f}" for n in names) + "  MB/s")
        med = {n: statistics.median(total / s / 1e6 for s, _, _ in results[n]) for n in names}
        print(f"\nmedians over {args.runs} runs, MB/s of compressed bytes; load average 1 min during the runs: "
              f"{min(loads):.2f}-{max(loads):.2f}")
        for n in names:
            cpu = statistics.median(c for _, c, _ in results[n])
            reg = statistics.median(g for _, _, g in results[n])
            print(f"  {n:<18} {med[n]:8.1f} MB/s   cpu: ours {cpu:5.2f} s, registry {reg:5.2f} s")
        pull_m = med[names[3]]
        bound = med[names[4]] * (os.cpu_count() or 1)
        print(f"  bound: (d) x {os.cpu_count()} CPUs {bound:8.1f} MB/s = {bound / med[names[0]]:.2f} of (a) raw: no pull "
              f"that verifies both digests can pass it here; the goal (0.5 of raw) needs {med[names[0]] / 2:.0f} MB/s")
        floor_cpu_s = total / 1e6 / med[names[4]]
        raw_s = total / 1e6 / med[names[0]]
        raw_cpu = statistics.median(c for _, c, _ in results[names[0]])  # both ends of the copy are our threads
        print(f"  CPUs for the goal   {floor_cpu_s / (2 * raw_cpu):8.1f}   at the least: the floor's {floor_cpu_s:.2f} CPU-s "
              f"done in twice raw's {raw_cpu:.3f} CPU-s (its time with the machine to itself), with nothing else "
              f"(files, blob store, Python) counted; {floor_cpu_s / (2 * raw_s):.1f} against raw's wall time "
              f"{raw_s:.3f} s under this load")
        print(f"  pull / bound        {pull_m / bound:8.2f}")
        print(f"  pull / (a) raw      {pull_m / med[names[0]]:8.2f}   (issue 6 goal: >= 0.5)")
        print(f"  pull / (b) GET x1   {pull_m / med[names[1]]:8.2f}")
        print(f"  pull / (b) GET x{workers}   {pull_m / med[names[2]]:8.2f}")
        print(f"  pull, unpacked      {unpacked / (total / pull_m):8.1f} MB/s of layer content written")
        files = sum(n_files)
        plain, top = create_probe(base, False), create_probe(base, True)
        print(f"  file creation       {plain:8.1f} us per file in a plain directory of {base.parent}, {top:.1f} us "
              f"below one flagged like the layer store's ({files} entries in the image)")
        cpu_pull = statistics.median(c for _, c, _ in results[names[3]])
        cpu_get = statistics.median(c for _, c, _ in results[names[1]])
        print(f"  pull CPU            {total / cpu_pull / 1e6:8.1f} MB per CPU-second ({cpu_pull / cpu_get:.1f}x the "
              "CPU of GET x1): the figure least moved by other load; wall-time figures above are bounded by it "
              f"and by the {os.cpu_count()} CPUs shared with that load")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
