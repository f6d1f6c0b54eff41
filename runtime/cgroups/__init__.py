"""cgroups v1 and v2 behind one interface. ``new_manager(name, parent)`` picks the manager for the host (pure v2,
hybrid -> v1, v1); it applies the container's ``Resources`` (``runtime.resources``); ``device_policy`` gives the
device rules ``create`` applies.

Modules: ``base`` (the ``CgroupManager`` interface), ``convert`` (checks, derived values, unit conversions), ``v1``,
``v2``, ``factory``, ``devices`` (v1 devices.allow/deny, v2 eBPF filter), ``blkio`` (per-device I/O limits), ``fs``.
"""
from __future__ import annotations

from runtime.cgroups.base import CgroupManager, OomWatch, Resources, check_resources, resources_from
from runtime.cgroups.devices import ALLOW_ALL, DEFAULT_DEVICES, DeviceRule, device_policy, parse_rule
from runtime.cgroups.factory import CgroupMode, detect_mode, new_manager, remove_parent

__all__ = ["CgroupManager", "OomWatch", "Resources", "check_resources", "resources_from", "CgroupMode",
           "detect_mode", "new_manager", "remove_parent", "DeviceRule", "DEFAULT_DEVICES", "ALLOW_ALL", "device_policy",
           "parse_rule"]
