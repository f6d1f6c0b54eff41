"""cgroups v1 and v2 behind one interface: ``new_manager(name, parent)`` picks the right one for the host."""
from __future__ import annotations

from runtime.cgroups.base import CgroupManager, OomWatch, Resources, resources_from
from runtime.cgroups.devices import ALLOW_ALL, DEFAULT_DEVICES, DeviceRule, device_policy, parse_rule
from runtime.cgroups.factory import CgroupMode, detect_mode, new_manager, remove_parent

__all__ = ["CgroupManager", "OomWatch", "Resources", "resources_from", "CgroupMode", "detect_mode", "new_manager",
           "remove_parent", "DeviceRule", "DEFAULT_DEVICES", "ALLOW_ALL", "device_policy", "parse_rule"]
