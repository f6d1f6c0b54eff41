"""One line of ``stats``: the figures Docker derives from two samples (CPU % over the interval, memory less the
inactive page cache, network and block I/O totals, PIDs), in Docker's units, and the ``--format`` renderers
(``table``, ``json``, a ``{{.Field}}`` template, optionally ``table``-prefixed)."""
from __future__ import annotations

import re
from typing import Any

from compose.errors import UserError

__all__ = ["FIELDS", "HEADERS", "stats_row", "check_format", "render", "bytes_binary", "bytes_decimal"]

FIELDS = ("Container", "ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs")
HEADERS = {"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
           "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O",
           "PIDs": "PIDS"}
_DEFAULT_TABLE = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
_FIELD = re.compile(r"\{\{\s*(json\s+)?\.(\w*)\s*\}\}")


def _size(value: float, base: float, units: tuple[str, ...], digits: int) -> str:
    i = 0
    while value >= base and i < len(units) - 1:
        value /= base
        i += 1
    return f"{value:.{digits}g}{units[i]}"


def bytes_binary(value: float) -> str:
    """Docker's ``units.BytesSize``: ``1.539MiB``."""
    return _size(value, 1024.0, ("B", "KiB", "MiB", "GiB", "TiB", "PiB"), 4)


def bytes_decimal(value: float) -> str:
    """Docker's ``units.HumanSizeWithPrecision(v, 3)``: ``12.3kB``."""
    return _size(value, 1000.0, ("B", "kB", "MB", "GB", "TB", "PB"), 3)


def _cpu_percent(sample: dict[str, Any]) -> float:
    cpu, pre = sample.get("cpu_stats") or {}, sample.get("precpu_stats") or {}
    if not pre:
        return 0.0
    used = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get("total_usage", 0)
    system = (cpu.get("system_cpu_usage") or 0) - (pre.get("system_cpu_usage") or 0)
    cpus = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or ()) or 1
    return used / system * cpus * 100.0 if used > 0 and system > 0 else 0.0


def _memory(sample: dict[str, Any]) -> tuple[float, float]:
    mem = sample.get("memory_stats") or {}
    usage = float(mem.get("usage") or 0)
    stats = mem.get("stats") or {}
    cache = stats.get("total_inactive_file", stats.get("inactive_file", 0)) or 0  # v1, v2
    if cache < usage:
        usage -= cache
    return usage, float(mem.get("limit") or 0)


def _io(sample: dict[str, Any]) -> tuple[tuple[int, int], tuple[int, int]]:
    rx = tx = 0
    for net in (sample.get("networks") or {}).values():
        rx += int(net.get("rx_bytes") or 0)
        tx += int(net.get("tx_bytes") or 0)
    read = write = 0
    for entry in (sample.get("blkio_stats") or {}).get("io_service_bytes_recursive") or ():
        op = str(entry.get("op", "")).lower()
        if op == "read":
            read += int(entry.get("value") or 0)
        elif op == "write":
            write += int(entry.get("value") or 0)
    return (rx, tx), (read, write)


def stats_row(cid: str, name: str, sample: dict[str, Any] | None, *, running: bool = True,
              trunc: bool = True) -> dict[str, str]:
    """The figures of one container (``--`` for one that does not run, as Docker shows it)."""
    short = cid[:12] if trunc else cid
    if sample is None or not running:
        dash = "--"
        return {"Container": short, "ID": short, "Name": name, "CPUPerc": "0.00%" if sample else dash,
                "MemUsage": "0B / 0B", "MemPerc": "0.00%", "NetIO": "0B / 0B", "BlockIO": "0B / 0B", "PIDs": "0"}
    used, limit = _memory(sample)
    (rx, tx), (read, write) = _io(sample)
    pids = (sample.get("pids_stats") or {}).get("current") or 0
    return {"Container": short, "ID": short, "Name": name, "CPUPerc": f"{_cpu_percent(sample):.2f}%",
            "MemUsage": f"{bytes_binary(used)} / {bytes_binary(limit)}",
            "MemPerc": f"{(used / limit * 100.0) if limit else 0.0:.2f}%",
            "NetIO": f"{bytes_decimal(rx)} / {bytes_decimal(tx)}",
            "BlockIO": f"{bytes_decimal(read)} / {bytes_decimal(write)}", "PIDs": str(pids)}


def check_format(fmt: str) -> str:
    """The template a ``--format`` value means (``table``, ``json`` or a template); unknown fields refused."""
    if fmt in ("", "table"):
        return _DEFAULT_TABLE
    if fmt == "json":
        return fmt
    for m in _FIELD.finditer(fmt):
        if m.group(2) and m.group(2) not in FIELDS:
            raise UserError.single(f"--format: no field {m.group(2)!r} (fields: {', '.join(FIELDS)})")
    return fmt


def render(fmt: str, rows: list[dict[str, str]]) -> str:
    """The text for ``rows`` (a header line first for a ``table`` template)."""
    from compose.cli._template import render_rows

    return render_rows(fmt, rows, HEADERS, _DEFAULT_TABLE)

