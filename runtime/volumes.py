"""Named volumes with the ``local`` driver: a directory under the data root, or (``driver_opts`` type/device/o)
a filesystem mounted there while a running container uses it, as Docker's local driver does.

Records live in ``<root>/volumes/<name>/volume.json`` (written atomically); data in ``<root>/volumes/<name>/_data``.
Containers reference a volume from create to removal (``acquire``/``release``: removal is refused meanwhile)
and mount it while they run (``mount``/``unmount``: the driver's filesystem is mounted for the first user and
unmounted after the last).
"""
from __future__ import annotations

import builtins
import json
import os
import re
import secrets
import shutil
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from runtime import linux
from runtime.errors import Conflict, EngineError, InvalidArgument, NotFound
from runtime.labels import labels_match
from runtime.state import write_record

__all__ = ["ANONYMOUS_LABEL", "Volume", "VolumeService", "valid_volume_name", "dir_size"]

ANONYMOUS_LABEL = "com.docker.volume.anonymous"
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_OPTS = {"type", "device", "o", "size"}
_FLAGS = {"ro": linux.MS_RDONLY, "nosuid": linux.MS_NOSUID, "nodev": linux.MS_NODEV, "noexec": linux.MS_NOEXEC,
          "bind": linux.MS_BIND, "rbind": linux.MS_BIND | linux.MS_REC, "rw": 0, "defaults": 0}


def valid_volume_name(name: str) -> bool:
    return bool(_NAME.match(name))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class Volume:
    name: str
    driver: str = "local"
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    created: str = field(default_factory=_now)
    refs: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    pins: dict[str, str] = field(default_factory=dict)  # subpath staging token -> container id

    @property
    def anonymous(self) -> bool:
        return ANONYMOUS_LABEL in self.labels


def dir_size(path: Path) -> int:
    """Bytes of disk the files under ``path`` take (``du``)."""
    return _dir_size(path)


def _dir_size(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                pass
    return total


def _is_mount(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mountinfo") as fh:
        return any(line.split()[4] == target for line in fh)


def _copy_tree(src: Path, dst: Path) -> None:
    """Copy ``src``'s content into the existing ``dst`` keeping modes, owners, times and symlinks."""
    for entry in os.scandir(src):
        target = dst / entry.name
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), target)
        elif entry.is_dir():
            target.mkdir()
            _copy_tree(Path(entry.path), target)
            shutil.copystat(entry.path, target)
        else:
            shutil.copy2(entry.path, target)
        st = entry.stat(follow_symlinks=False)
        os.chown(target, st.st_uid, st.st_gid, follow_symlinks=False)
    st = os.stat(src)
    os.chown(dst, st.st_uid, st.st_gid)
    os.chmod(dst, st.st_mode & 0o7777)


class VolumeService:
    def __init__(self, root: Path, on_event: Callable[[str, str, dict[str, str]], None] | None = None) -> None:
        self._dir = root / "volumes"
        self._dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._emit = on_event or (lambda _action, _name, _attrs: None)

    # -- records ------------------------------------------------------------------------------------------
    def _record(self, name: str) -> Path:
        return self._dir / name / "volume.json"

    def data_path(self, name: str) -> Path:
        return self._dir / name / "_data"

    def _save(self, vol: Volume) -> None:
        write_record(self._record(vol.name), vol.__dict__, mode=0o644)

    def get(self, name: str) -> Volume:
        if not valid_volume_name(name):
            raise NotFound(f"get {name}: no such volume")
        try:
            raw = json.loads(self._record(name).read_text())
        except FileNotFoundError:
            raise NotFound(f"get {name}: no such volume") from None
        return Volume(**raw)

    def list(self) -> list[Volume]:
        out = []
        for entry in sorted(self._dir.iterdir()):
            try:
                out.append(self.get(entry.name))
            except (NotFound, ValueError, TypeError):
                continue
        return out

    # -- lifecycle ----------------------------------------------------------------------------------------
    def create(self, name: str | None = None, driver: str = "local", options: dict[str, str] | None = None,
               labels: dict[str, str] | None = None) -> tuple[Volume, bool]:
        """Create (or return the existing) volume; the flag says whether it is new."""
        driver = driver or "local"
        options = dict(options or {})
        labels = dict(labels or {})
        anonymous = not name
        name = name or secrets.token_hex(32)
        if not valid_volume_name(name):
            raise InvalidArgument(f"create {name}: \"{name}\" includes invalid characters for a local volume "
                                  f"name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass "
                                  f"a host directory, use absolute path")
        if driver != "local":
            raise NotFound(f"create {name}: error looking up volume plugin {driver}: plugin \"{driver}\" not found")
        for key in options:
            if key not in _OPTS:
                raise InvalidArgument(f"create {name}: invalid option key: \"{key}\"")
        if options and "type" not in options and "device" in options:
            raise InvalidArgument(f"create {name}: missing required option: \"type\"")
        if options.get("type") and options["type"] != "tmpfs" and "device" not in options:
            raise InvalidArgument(f"create {name}: missing required option: \"device\"")
        if anonymous:
            labels.setdefault(ANONYMOUS_LABEL, "")
        with self._lock:
            try:
                existing = self.get(name)
            except NotFound:
                existing = None
            if existing is not None:
                if existing.driver != driver:
                    raise Conflict(f"create {name}: volume name is already in use with driver {existing.driver}")
                return existing, False
            vol = Volume(name, driver, labels, options)
            self.data_path(name).mkdir(parents=True, exist_ok=True)
            self._save(vol)
        self._emit("create", name, {"driver": driver})
        return vol, True

    def remove(self, name: str, force: bool = False) -> None:
        with self._lock:
            try:
                vol = self.get(name)
            except NotFound:
                if force:
                    return
                raise
            if vol.refs:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(vol.refs)}]")
            if vol.pins:
                self._unpin(vol, list(vol.pins))
            if vol.mounts:
                self._unmount_fs(vol)
            shutil.rmtree(self._dir / name)
        self._emit("destroy", name, {"driver": vol.driver})

    def prune(self, labels: builtins.list[str] | None = None, all_volumes: bool = False
              ) -> tuple[builtins.list[str], int]:
        removed, reclaimed = [], 0
        for vol in self.list():
            if vol.refs or (not all_volumes and not vol.anonymous) or not labels_match(vol.labels, labels or []):
                continue
            size = _dir_size(self.data_path(vol.name))
            try:
                self.remove(vol.name)
            except (Conflict, NotFound):
                continue
            removed.append(vol.name)
            reclaimed += size
        return removed, reclaimed

    def usage(self, name: str) -> tuple[int, int]:
        """(size in bytes, number of containers referencing it), for ``/system/df``."""
        vol = self.get(name)
        return _dir_size(self.data_path(name)), len(vol.refs)

    # -- use by containers --------------------------------------------------------------------------------
    def acquire(self, name: str, container_id: str) -> Volume:
        with self._lock:
            vol = self.get(name)
            if container_id not in vol.refs:
                vol.refs.append(container_id)
                self._save(vol)
            return vol

    def release(self, name: str, container_id: str) -> None:
        with self._lock:
            try:
                vol = self.get(name)
            except NotFound:
                return
            if container_id in vol.pins.values():
                self._unpin(vol, [t for t, c in vol.pins.items() if c == container_id])
                vol = self.get(name)
            if container_id in vol.mounts:
                self.unmount(name, container_id)
                vol = self.get(name)
            if container_id in vol.refs:
                vol.refs.remove(container_id)
                self._save(vol)

    def mount(self, name: str, container_id: str) -> Path:
        """The host path to bind into the container; the driver's filesystem is mounted for the first user."""
        with self._lock:
            vol = self.get(name)
            if vol.options.get("type") and not vol.mounts:
                self._mount_fs(vol)
            if container_id not in vol.mounts:
                vol.mounts.append(container_id)
                self._save(vol)
            return self.data_path(name)

    def unmount(self, name: str, container_id: str) -> None:
        with self._lock:
            try:
                vol = self.get(name)
            except NotFound:
                return
            if container_id not in vol.mounts:
                return
            vol.mounts.remove(container_id)
            if not vol.mounts and vol.options.get("type"):
                self._unmount_fs(vol)
            self._save(vol)

    # -- subpaths -----------------------------------------------------------------------------------------
    def pin_path(self, name: str, token: str) -> Path:
        """Where the subpath staged under ``token`` is bind-mounted (beside ``_data``, out of containers' sight)."""
        return self._dir / name / "subpaths" / token

    def pin_subpath(self, name: str, subpath: str, token: str, container_id: str) -> Path:
        """Bind the volume's ``subpath`` at :meth:`pin_path` for a container about to start, resolved so that it
        cannot leave the volume: the real path is opened (``O_PATH``) and checked through ``/proc/self/fd``, and
        that very inode is mounted, so a symlink swapped in later changes nothing. ``InvalidArgument`` when the
        subpath is missing or leads out of the volume."""
        with self._lock:
            vol = self.get(name)
            base = os.path.realpath(self.data_path(name))
            wanted = os.path.join(base, subpath)
            if not os.path.lexists(wanted):
                raise InvalidArgument(f"cannot access path {wanted}: subpath {subpath!r} does not exist in volume "
                                      f"{name}")
            fd = os.open(os.path.realpath(wanted), os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                real = os.readlink(f"/proc/self/fd/{fd}")
                if real != base and not real.startswith(base + os.sep):
                    raise InvalidArgument(f"cannot access path {wanted}: subpath {subpath!r} of volume {name} "
                                          f"escapes the volume (path concatenation escapes the base directory)")
                is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
                if token in vol.pins:
                    self._unpin(vol, [token])
                    vol = self.get(name)
                target = self.pin_path(name, token)
                target.parent.mkdir(exist_ok=True)
                if is_dir:
                    target.mkdir(exist_ok=True)
                else:
                    target.touch(exist_ok=True)
                try:
                    linux.mount(f"/proc/self/fd/{fd}", str(target), None, linux.MS_BIND | linux.MS_REC)
                except OSError as err:
                    raise EngineError(f"cannot mount subpath {subpath!r} of volume {name}: {err.strerror}") from err
            finally:
                os.close(fd)
            vol.pins[token] = container_id
            self._save(vol)
            return target

    def _unpin(self, vol: Volume, tokens: builtins.list[str]) -> None:
        for token in tokens:
            target = self.pin_path(vol.name, token)
            while _is_mount(target):
                try:
                    linux.umount(str(target), linux.MNT_DETACH)
                except OSError:
                    break
            try:
                target.rmdir() if target.is_dir() else target.unlink()
            except OSError:
                pass
            vol.pins.pop(token, None)
        self._save(vol)

    def fill(self, name: str, source: Path) -> bool:
        """Copy the image's content at the mount path into a volume that is still empty (Docker's copy-up)."""
        with self._lock:
            data = self.data_path(name)
            if not source.is_dir() or any(data.iterdir()):
                return False
            _copy_tree(source, data)
            return True

    def _mount_fs(self, vol: Volume) -> None:
        opts = vol.options
        flags, data = 0, []
        for item in filter(None, opts.get("o", "").split(",")):
            if item in _FLAGS:
                flags |= _FLAGS[item]
            else:
                data.append(item)
        if opts.get("size"):
            data.append(f"size={opts['size']}")
        fstype = opts["type"]
        device = opts.get("device", fstype)
        target = str(self.data_path(vol.name))
        try:
            if flags & linux.MS_BIND:
                linux.mount(device, target, None, flags & (linux.MS_BIND | linux.MS_REC))
                if flags & ~(linux.MS_BIND | linux.MS_REC):
                    linux.mount(None, target, None, flags | linux.MS_REMOUNT | linux.MS_BIND)
            else:
                linux.mount(device, target, None if fstype == "none" else fstype, flags, ",".join(data) or None)
        except OSError as err:
            raise EngineError(f"error while mounting volume '{target}': failed to mount local volume: mount "
                              f"{device}:{target}, flags: {flags:#x}, data: {','.join(data)}: {err.strerror}") from err

    def _unmount_fs(self, vol: Volume) -> None:
        try:
            linux.umount(str(self.data_path(vol.name)), linux.MNT_DETACH)
        except OSError:
            pass
