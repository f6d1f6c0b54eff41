"""Per-device block I/O limits (compose ``blkio_config``): weights and bytes/IOPS throttles by device.

A device is named by its path (``/dev/sda``, resolved with stat: it must be a block device) or ``major:minor``.
v1 writes one line per device to ``blkio.throttle.*_device`` and ``blkio[.bfq].weight_device``; v2 folds the four
throttles of a device into one ``io.max`` line and weights into ``io.weight`` / ``io.bfq.weight``.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping

from runtime.errors import InvalidArgument

__all__ = ["THROTTLES", "device_number", "v1_throttle_lines", "v2_io_max_lines"]

# Resources field -> (v1 file, v2 io.max key)
THROTTLES = {
    "blkio_read_bps": ("blkio.throttle.read_bps_device", "rbps"),
    "blkio_write_bps": ("blkio.throttle.write_bps_device", "wbps"),
    "blkio_read_iops": ("blkio.throttle.read_iops_device", "riops"),
    "blkio_write_iops": ("blkio.throttle.write_iops_device", "wiops"),
}


def device_number(device: str) -> str:
    """``/dev/vda`` or ``254:0`` -> ``254:0``."""
    if ":" in device and not device.startswith("/"):
        major, _, minor = device.partition(":")
        if major.isdigit() and minor.isdigit():
            return f"{int(major)}:{int(minor)}"
        raise InvalidArgument(f"invalid block device {device!r}: want a path or major:minor")
    try:
        st = os.stat(device)
    except OSError as err:
        raise InvalidArgument(f"block device {device!r}: {err.strerror}") from err
    if not stat.S_ISBLK(st.st_mode):
        raise InvalidArgument(f"{device!r} is not a block device")
    return f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"


def v1_throttle_lines(limits: Mapping[str, Iterable[tuple[str, int]]]) -> list[tuple[str, str]]:
    """(file, line) per device for the given throttle fields (see ``THROTTLES``)."""
    out = []
    for field, entries in limits.items():
        fname = THROTTLES[field][0]
        for device, value in entries:
            out.append((fname, f"{device_number(device)} {int(value)}"))
    return out


def v2_io_max_lines(limits: Mapping[str, Iterable[tuple[str, int]]]) -> list[str]:
    """One ``io.max`` line per device: ``254:0 rbps=1048576 wiops=100``."""
    per_device: dict[str, list[str]] = {}
    for field, entries in limits.items():
        key = THROTTLES[field][1]
        for device, value in entries:
            per_device.setdefault(device_number(device), []).append(f"{key}={int(value)}")
    return [f"{dev} {' '.join(parts)}" for dev, parts in per_device.items()]
