"""All mount work for a container, run by its init in a fresh mount namespace.

``mount_rootfs`` builds the tree before ``pivot_root`` (overlay of the image layers plus the container's upper dir,
bind/volume/tmpfs mounts, /proc, /sys, /dev, shm, mqueue, the managed /etc files), ``pivot_into`` switches root, and
``lock_rootfs`` makes the rootfs read-only if asked (after ``runtime.security`` masked paths and sysctls). Every mount
lives only in the container's mount namespace, so it disappears with the container: nothing to clean on the host.
Only the standard library, ``spec`` and ``linux`` are imported.
"""
from __future__ import annotations

import errno
import os
import shutil
import stat

from runtime import linux
from runtime.linux import (MNT_DETACH, MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC,
                           MS_RELATIME, MS_REMOUNT, MS_SHARED, MS_SLAVE, MS_STRICTATIME)
from runtime.spec import ContainerSpec, Mount

__all__ = ["RootfsPaths", "mount_rootfs", "mount_cgroups", "pivot_into", "lock_rootfs", "secure_join",
           "MANAGED_FILES", "note_host_cgroups"]

MANAGED_FILES = ("hosts", "hostname", "resolv.conf")
_DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0))
_DEV_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
              ("stderr", "/proc/self/fd/2"), ("core", "/proc/kcore"), ("ptmx", "pts/ptmx"))
_PROPAGATION = {"private": MS_PRIVATE, "rprivate": MS_PRIVATE | MS_REC, "shared": MS_SHARED,
                "rshared": MS_SHARED | MS_REC, "slave": MS_SLAVE, "rslave": MS_SLAVE | MS_REC}
_FLAG_OPTIONS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC}
_TTY_GID = 5


class RootfsPaths:
    """Where a container's pieces live in its state dir."""

    def __init__(self, state_dir: str) -> None:
        self.state_dir = state_dir
        self.merged = os.path.join(state_dir, "rootfs")
        self.upper = os.path.join(state_dir, "upper")
        self.work = os.path.join(state_dir, "work")
        self.empty = os.path.join(state_dir, "empty")


def secure_join(root: str, path: str) -> str:
    """``path`` inside ``root``, following symlinks as if ``root`` were ``/`` (so nothing escapes it)."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            resolved.append(part)
            continue
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > 255:
                raise OSError(errno.ELOOP, f"too many levels of symbolic links in {path}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def _flags(options: tuple[str, ...]) -> int:
    return sum(flag for name, flag in _FLAG_OPTIONS.items() if name in options)


def _ensure(path: str, is_dir: bool) -> None:
    if os.path.lexists(path):
        return
    if is_dir:
        os.makedirs(path, 0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))


def _overlay(spec: ContainerSpec, paths: RootfsPaths) -> None:
    lowers = list(reversed(spec.rootfs)) or [paths.empty]  # overlayfs wants the top layer first
    if not spec.rootfs:
        os.makedirs(paths.empty, exist_ok=True)
    for d in (paths.merged, paths.upper, paths.work):
        os.makedirs(d, 0o755, exist_ok=True)
    data = f"lowerdir={':'.join(lowers)},upperdir={paths.upper},workdir={paths.work}"
    if len(data) < 4000:
        linux.mount("overlay", paths.merged, "overlay", 0, data)
        return
    # Long layer lists exceed a page of mount options: name the layers relative to their common parent.
    common = os.path.commonpath(lowers + [paths.upper, paths.work])
    old = os.open(".", os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.chdir(common)
        rel = [os.path.relpath(p, common) for p in lowers]
        data = (f"lowerdir={':'.join(rel)},upperdir={os.path.relpath(paths.upper, common)},"
                f"workdir={os.path.relpath(paths.work, common)}")
        linux.mount("overlay", paths.merged, "overlay", 0, data)
    finally:
        os.fchdir(old)
        os.close(old)


def _copy_up(image_dir: str, volume_dir: str) -> None:
    """Docker's volume copy-up: an empty new volume gets the image's files at the mount point."""
    if not os.path.isdir(image_dir) or os.listdir(volume_dir) or not os.listdir(image_dir):
        return
    shutil.copytree(image_dir, volume_dir, symlinks=True, dirs_exist_ok=True, copy_function=shutil.copy2)
    st = os.lstat(image_dir)
    os.chown(volume_dir, st.st_uid, st.st_gid)
    os.chmod(volume_dir, stat.S_IMODE(st.st_mode))


def _bind(m: Mount, target: str) -> None:
    if not os.path.exists(m.source):
        raise OSError(errno.ENOENT, f"bind source path does not exist: {m.source}")
    is_dir = os.path.isdir(m.source)
    if m.type == "volume" and is_dir and "nocopy" not in m.options:
        _copy_up(target, m.source)
    _ensure(target, is_dir)
    linux.mount(m.source, target, None, MS_BIND | (MS_REC if m.recursive else 0))
    extra = _flags(m.options)
    if m.read_only or extra:
        linux.mount(None, target, None, MS_BIND | MS_REMOUNT | (MS_RDONLY if m.read_only else 0) | extra)
    if m.read_only and m.recursive and "norro" not in m.options:
        _readonly_submounts(target, force="rro" in m.options)
    linux.mount(None, target, None, _PROPAGATION[m.propagation or "rprivate"])


def _readonly_submounts(target: str, force: bool) -> None:
    """Make the mounts under a read-only bind read-only too (Docker 25+: by default where the kernel can; "rro":
    an error where it cannot)."""
    try:
        linux.mount_setattr(target, linux.MOUNT_ATTR_RDONLY, flags=linux.AT_RECURSIVE)
    except OSError as err:
        if force:
            raise OSError(err.errno, f"cannot make {target} recursively read-only: {err.strerror}") from err


def _image(m: Mount, target: str, staging: str) -> None:
    """An image's filesystem (its layers stacked, read-only) at ``target``, or one directory of it (subpath): the
    stack is mounted at ``staging`` first and the wanted part bound from there."""
    lowers = m.source.split(":")
    os.makedirs(staging, 0o700, exist_ok=True)
    if len(lowers) == 1:
        linux.mount(lowers[0], staging, None, MS_BIND)
    elif len(m.source) < 4000:
        linux.mount("overlay", staging, "overlay", MS_RDONLY, f"lowerdir={m.source}")
    else:  # more than a page of options: name the layers relative to their common parent, as _overlay does
        common = os.path.commonpath(lowers)
        old = os.open(".", os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.chdir(common)
            rel = ":".join(os.path.relpath(p, common) for p in lowers)
            linux.mount("overlay", staging, "overlay", MS_RDONLY, f"lowerdir={rel}")
        finally:
            os.fchdir(old)
            os.close(old)
    try:
        source = secure_join(staging, m.subpath) if m.subpath else staging
        if not os.path.exists(source):
            raise OSError(errno.ENOENT, f"image mount at {m.target}: subpath {m.subpath!r} does not exist in the "
                                        "image")
        _ensure(target, os.path.isdir(source))
        linux.mount(source, target, None, MS_BIND)
        linux.mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
        linux.mount(None, target, None, MS_PRIVATE)
    finally:
        linux.umount(staging, MNT_DETACH)


def _tmpfs(m: Mount, target: str) -> None:
    _ensure(target, True)
    data = f"mode={m.tmpfs_mode:o}" + (f",size={m.tmpfs_size}" if m.tmpfs_size else "")
    flags = MS_NOSUID | MS_NODEV | _flags(m.options) | (MS_RDONLY if m.read_only else 0)
    linux.mount("tmpfs", target, "tmpfs", flags, data)


def _mount_user(spec: ContainerSpec, root: str, paths: RootfsPaths) -> None:
    for i, m in enumerate(sorted(spec.mounts, key=lambda m: len([p for p in m.target.split("/") if p]))):
        target = secure_join(root, m.target)
        if m.type == "tmpfs":
            _tmpfs(m, target)
        elif m.type == "image":
            _image(m, target, os.path.join(paths.state_dir, "image-mounts", str(i)))
        else:
            _bind(m, target)


def _mount_dev(spec: ContainerSpec, root: str, console: str | None) -> None:
    dev = secure_join(root, "/dev")
    _ensure(dev, True)
    linux.mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k")
    for name, major, minor in _DEVICES:
        path = os.path.join(dev, name)
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(major, minor))
        os.chmod(path, 0o666)  # mknod honours the umask
    for name, target in _DEV_LINKS:
        os.symlink(target, os.path.join(dev, name))
    for sub in ("pts", "shm", "mqueue"):
        os.mkdir(os.path.join(dev, sub), 0o755)
    linux.mount("devpts", os.path.join(dev, "pts"), "devpts", MS_NOSUID | MS_NOEXEC,
                f"newinstance,ptmxmode=0666,mode=0620,gid={_TTY_GID}")
    linux.mount("shm", os.path.join(dev, "shm"), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                f"mode=1777,size={spec.shm_size}")
    linux.mount("mqueue", os.path.join(dev, "mqueue"), "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if spec.privileged:
        _copy_host_devices(dev)
    for device in spec.devices:
        _add_device(root, device.host_path, device.container_path or device.host_path)
    if console:
        _ensure(os.path.join(dev, "console"), False)
        linux.mount(console, os.path.join(dev, "console"), None, MS_BIND)


_HOST_DEV_SKIP = ("pts", "shm", "mqueue", "hugepages", "console", "ptmx", "tty", "fd", "core")


def _copy_host_devices(dev: str) -> None:
    """Privileged containers get the host's device nodes (one directory level deep), as with Docker."""
    for top in os.scandir("/dev"):
        if top.name in _HOST_DEV_SKIP or top.name.startswith("tty") and top.name != "tty":
            continue
        entries = [top]
        if top.is_dir(follow_symlinks=False):
            entries = list(os.scandir(top.path))
        for entry in entries:
            st = entry.stat(follow_symlinks=False)
            if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
                continue
            target = os.path.join(dev, os.path.relpath(entry.path, "/dev"))
            if os.path.lexists(target):
                continue
            os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
            os.mknod(target, st.st_mode, st.st_rdev)
            os.chmod(target, stat.S_IMODE(st.st_mode))
            os.chown(target, st.st_uid, st.st_gid)


def _add_device(root: str, host_path: str, container_path: str) -> None:
    st = os.stat(host_path)  # follows symlinks, as Docker does
    if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        raise OSError(errno.EINVAL, f"{host_path} is not a device node")
    target = secure_join(root, container_path)
    os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
    if os.path.lexists(target):
        os.unlink(target)
    os.mknod(target, st.st_mode, st.st_rdev)
    os.chmod(target, stat.S_IMODE(st.st_mode))
    os.chown(target, st.st_uid, st.st_gid)


def _mount_kernel_fs(spec: ContainerSpec, root: str) -> None:
    proc = secure_join(root, "/proc")
    _ensure(proc, True)
    linux.mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    sys_dir = secure_join(root, "/sys")
    _ensure(sys_dir, True)
    ro = 0 if spec.privileged else MS_RDONLY
    base = MS_NOSUID | MS_NODEV | MS_NOEXEC
    try:
        linux.mount("sysfs", sys_dir, "sysfs", base | ro)
    except PermissionError:
        # Joined a network namespace we do not own: sysfs refuses; bind the host's read-only instead.
        linux.mount("/sys", sys_dir, None, MS_BIND | MS_REC)
        linux.mount(None, sys_dir, None, MS_BIND | MS_REMOUNT | base | ro)


def _host_cgroup_mounts() -> list[tuple[str, str, str]]:
    """(mount point relative to /sys/fs/cgroup, fstype, superblock options) of the host's cgroup mounts."""
    out = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            left, _, right = line.partition(" - ")
            fields, rest = left.split(), right.split()
            if len(rest) < 3 or rest[0] not in ("cgroup", "cgroup2"):
                continue
            point = fields[4]
            if point == "/sys/fs/cgroup" or point.startswith("/sys/fs/cgroup/"):
                opts = ",".join(o for o in rest[2].split(",") if o not in ("rw", "ro"))
                out.append((point[len("/sys/fs/cgroup"):].lstrip("/"), rest[0], opts))
    return out


_noted_cgroups: list[tuple[str, str, str]] | None = None


def note_host_cgroups() -> None:
    """Read the host's cgroup mounts now, for ``mount_cgroups`` to use later: a process forked ahead of need (a
    spare container's init) reads the host's short mountinfo while it waits, instead of the container's (the
    host's lines plus every rootfs mount) on the start's path (~0.1 ms). Never raises."""
    global _noted_cgroups
    try:
        _noted_cgroups = _host_cgroup_mounts()
    except (OSError, ValueError, IndexError):
        _noted_cgroups = None


def _mount_cgroups(target: str, flags: int) -> None:
    """The container's own view of the cgroup hierarchies (its cgroup namespace makes its cgroup the root):
    cgroup2 on a v2 host; on v1 a tmpfs with each controller hierarchy, as Docker does. Read-only unless
    privileged."""
    mounts = _host_cgroup_mounts() if _noted_cgroups is None else _noted_cgroups
    if not mounts or not os.path.isdir(target):
        return
    if mounts[0][0] == "" and mounts[0][1] == "cgroup2":
        linux.mount("cgroup2", target, "cgroup2", flags | MS_RELATIME)
        return
    linux.mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755")
    for sub, fstype, opts in mounts:
        if not sub or "/" in sub:
            continue
        path = os.path.join(target, sub)
        os.mkdir(path, 0o755)
        try:
            linux.mount("cgroup", path, fstype, flags, None if fstype == "cgroup2" else opts)
        except OSError:
            os.rmdir(path)  # a hierarchy this kernel will not show again (busy or gone): leave it out
    if flags & MS_RDONLY:
        linux.mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)


def _mount_managed(paths: RootfsPaths, root: str) -> None:
    for name in MANAGED_FILES:
        src = os.path.join(paths.state_dir, name)
        if not os.path.exists(src):
            continue
        target = secure_join(root, "/etc/" + name)
        if os.path.isdir(target):
            continue  # an image with a directory there: leave it alone, like Docker
        _ensure(target, False)
        linux.mount(src, target, None, MS_BIND)


def mount_rootfs(spec: ContainerSpec, state_dir: str, console: str | None = None) -> str:
    """Build the container's tree under ``<state_dir>/rootfs`` and return that path. Call in a new mount ns."""
    shared = any(m.propagation in ("shared", "rshared", "slave", "rslave") for m in spec.mounts)
    linux.mount(None, "/", None, MS_REC | (MS_SLAVE if shared else MS_PRIVATE))
    paths = RootfsPaths(state_dir)
    _overlay(spec, paths)
    root = paths.merged
    _mount_kernel_fs(spec, root)
    _mount_dev(spec, root, console)
    _mount_user(spec, root, paths)
    _mount_managed(paths, root)
    return root


def mount_cgroups(spec: ContainerSpec, root: str) -> None:
    """The cgroup hierarchies at /sys/fs/cgroup; call once in the container's cgroup (and cgroup namespace)."""
    if "cgroup" in spec.namespaces:
        ro = 0 if spec.privileged else MS_RDONLY
        _mount_cgroups(secure_join(root, "/sys/fs/cgroup"), MS_NOSUID | MS_NODEV | MS_NOEXEC | ro)


def pivot_into(root: str) -> None:
    """Make ``root`` the root of this mount namespace and drop the old root entirely."""
    os.chdir(root)
    linux.pivot_root(".", ".")
    linux.mount(None, ".", None, MS_SLAVE | MS_REC)  # keep the unmount below from reaching any peer
    linux.umount(".", MNT_DETACH)
    os.chdir("/")


def lock_rootfs(spec: ContainerSpec) -> None:
    """After ``pivot_into`` (and the masked/read-only paths, which ``runtime.security`` applies)."""
    if spec.readonly_rootfs:
        linux.mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY)
