"""What a container sees from the inside: its own pid 1, hostname, filesystem, devices and masked kernel files."""
from __future__ import annotations

import os

import pytest

from runtime.spec import Mount
from tests.runtime.containers.helpers import run

pytestmark = pytest.mark.root


def test_pid1_is_the_command_and_host_processes_are_invisible(svc, rootfs):
    code, out, _ = run(svc, rootfs, "sh", "-c", "echo pid=$$; ls /proc | grep -c '^[0-9]'")
    assert code == 0
    pid_line, count = out.split()
    assert pid_line == "pid=1"
    assert int(count) <= 3  # sh, ls, grep at most; the host has many more
    assert len([p for p in os.listdir("/proc") if p.isdigit()]) > 10


def test_hostname_domainname_and_managed_etc_files(svc, rootfs):
    code, out, _ = run(svc, rootfs, "sh", "-c", "hostname; cat /proc/sys/kernel/domainname; cat /etc/hostname; "
                       "grep -c localhost /etc/hosts; grep -c '^nameserver' /etc/resolv.conf",
                       hostname="web1", domainname="example.test", hosts="10.9.9.9\tdb\n")
    assert code == 0
    assert out.split() == ["web1", "example.test", "web1", "2", "1"] or out.split()[:3] == ["web1", "example.test",
                                                                                            "web1"]


def test_default_hostname_is_the_short_id(svc, rootfs):
    from runtime.spec import ContainerSpec

    cid = svc.create(None, ContainerSpec(args=("hostname",), rootfs=rootfs))
    svc.start(cid)
    assert svc.wait(cid, 30) == 0
    from tests.runtime.containers.helpers import read_log

    assert read_log(svc, cid)[0].strip() == cid[:12]


def test_masked_proc_files_read_empty_and_proc_sys_is_read_only(svc, rootfs):
    masked = [p for p in ("/proc/kcore", "/proc/keys", "/proc/timer_list") if os.path.exists(p)]
    assert masked, "the host has none of the files the test looks at"
    assert os.listdir("/sys/firmware")
    script = "".join(f"wc -c < {p}; " for p in masked)
    code, out, _ = run(svc, rootfs, "sh", "-c", script + "ls /sys/firmware | wc -l; "
                       "echo 1 > /proc/sys/kernel/panic_on_oops && echo writable || echo refused")
    assert code == 0
    assert out.split() == ["0"] * len(masked) + ["0", "refused"]


def test_dev_has_the_standard_nodes_and_nothing_of_the_host(svc, rootfs):
    code, out, _ = run(svc, rootfs, "sh", "-c", "ls /dev | sort | tr '\\n' ' '; echo; "
                       "head -c 4 /dev/zero | wc -c; echo x > /dev/null && echo null-ok; "
                       "df -k /dev/shm | tail -1 | awk '{print $2}'; mount | grep -c mqueue",
                       shm_size=8 * 1024 * 1024)
    assert code == 0
    lines = out.splitlines()
    names = set(lines[0].split())
    assert {"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "mqueue", "fd"} <= names
    assert "sda" not in names and "vda" not in names and "kmsg" not in names
    assert lines[1:4] == ["4", "null-ok", "8192"]
    assert int(lines[4]) >= 1


def test_read_only_rootfs_refuses_writes_but_tmpfs_accepts(svc, rootfs):
    code, out, _ = run(svc, rootfs, "sh", "-c",
                       "touch /newfile 2>/dev/null && echo root-writable || echo root-refused; "
                       "touch /scratch/f && echo tmpfs-ok; stat -c %a /scratch",
                       readonly_rootfs=True,
                       mounts=(Mount("tmpfs", "/scratch", tmpfs_size=1 << 20, tmpfs_mode=0o755),))
    assert code == 0
    assert out.split() == ["root-refused", "tmpfs-ok", "755"]


def test_writes_land_in_the_upper_dir_not_the_image(svc, rootfs, busybox_rootfs):
    code, _, _ = run(svc, rootfs, "sh", "-c", "echo hi > /etc/added; rm /etc/nsswitch.conf")
    assert code == 0
    assert not (busybox_rootfs / "etc/added").exists()
    assert (busybox_rootfs / "etc/nsswitch.conf").exists()


def test_bind_mounts_read_only_and_read_write(svc, rootfs, tmp_path):
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    (ro / "data").write_text("from-host\n")
    code, out, _ = run(svc, rootfs, "sh", "-c",
                       "cat /in/data; echo written > /out/f; touch /in/x 2>/dev/null && echo ro-broken || echo ro-ok",
                       mounts=(Mount("bind", "/out", str(rw)), Mount("bind", "/in", str(ro), read_only=True)))
    assert code == 0
    assert out.split() == ["from-host", "ro-ok"]
    assert (rw / "f").read_text() == "written\n"


def test_volume_data_survives_the_container(svc, rootfs, tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    mounts = (Mount("volume", "/data", str(vol)),)
    assert run(svc, rootfs, "sh", "-c", "echo persisted > /data/f", mounts=mounts)[0] == 0
    code, out, _ = run(svc, rootfs, "cat", "/data/f", mounts=mounts)
    assert (code, out) == (0, "persisted\n")


def test_empty_volume_gets_the_image_content(svc, rootfs, tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    code, out, _ = run(svc, rootfs, "ls", "/var/www", mounts=(Mount("volume", "/var/www", str(vol)),))
    assert (code, out) == (0, "index.html\n")
    assert (vol / "index.html").read_text() == "<h1>busybox</h1>\n"


def test_user_switching_by_name_and_by_number(svc, rootfs):
    assert run(svc, rootfs, "id", user="nobody")[1].split()[:2] == ["uid=65534(nobody)", "gid=65534(nogroup)"]
    assert run(svc, rootfs, "id", "-u", user="1234:65534")[1] == "1234\n"
    code, out, _ = run(svc, rootfs, "sh", "-c", "echo $HOME; grep CapEff /proc/self/status", user="nobody")
    assert out.split() == ["/", "CapEff:", "0000000000000000"]


def test_unknown_user_fails_to_start(svc, rootfs):
    from runtime.containers import StartFailed
    from runtime.spec import ContainerSpec

    cid = svc.create(None, ContainerSpec(args=("true",), rootfs=rootfs, user="nosuchuser"))
    with pytest.raises(StartFailed, match="unable to find user nosuchuser"):
        svc.start(cid)


def test_env_working_dir_and_rlimits(svc, rootfs):
    from runtime.spec import Ulimit

    code, out, _ = run(svc, rootfs, "sh", "-c", "echo $FOO $HOSTNAME; pwd; ulimit -n",
                       env=("FOO=bar",), hostname="h", working_dir="/made/here",
                       ulimits=(Ulimit("nofile", 123, 456),))
    assert code == 0
    assert out.split() == ["bar", "h", "/made/here", "123"]


def test_default_capabilities_match_docker(svc, rootfs):
    code, out, _ = run(svc, rootfs, "grep", "-E", "^Cap(Eff|Bnd|Inh)", "/proc/self/status")
    caps = dict(line.split(":\t") for line in out.splitlines())
    assert caps == {"CapInh": "0000000000000000", "CapEff": "00000000a80425fb", "CapBnd": "00000000a80425fb"}


def test_cap_add_and_drop(svc, rootfs):
    out = run(svc, rootfs, "grep", "CapEff", "/proc/self/status", cap_add=("NET_ADMIN",), cap_drop=("CHOWN",))[1]
    assert out.split()[1] == f"{(0xa80425fb | 1 << 12) & ~1:016x}"
    assert run(svc, rootfs, "grep", "CapEff", "/proc/self/status", cap_drop=("ALL",))[1].split()[1] == "0" * 16


def test_network_namespace_has_only_loopback(svc, rootfs):
    code, out, _ = run(svc, rootfs, "ls", "/sys/class/net")
    assert (code, out.split()) == (0, ["lo"])


def test_sysctl_and_oom_score_adj(svc, rootfs):
    code, out, _ = run(svc, rootfs, "sh", "-c", "cat /proc/sys/net/ipv4/ip_unprivileged_port_start "
                       "/proc/self/oom_score_adj", sysctls={"net.ipv4.ip_unprivileged_port_start": "80"},
                       oom_score_adj=500)
    assert (code, out.split()) == (0, ["80", "500"])


def test_only_stdio_is_open_in_the_container(svc, rootfs):
    from runtime.spec import ContainerSpec

    for init in (False, True):
        cid = svc.create(None, ContainerSpec(args=("sleep", "100"), rootfs=rootfs, init=init))
        svc.start(cid)
        pid = svc.top(cid)[-1]["pid"]  # the sleep (pid 2 under init)
        assert sorted(os.listdir(f"/proc/{pid}/fd")) == ["0", "1", "2"]
        svc.remove(cid, force=True)


def test_bind_a_single_file_and_a_nested_target(svc, rootfs, tmp_path):
    conf = tmp_path / "app.conf"
    conf.write_text("key=value\n")
    data = tmp_path / "data"
    data.mkdir()
    code, out, _ = run(svc, rootfs, "sh", "-c", "cat /etc/app/app.conf; ls -d /srv/deep/data",
                       mounts=(Mount("bind", "/etc/app/app.conf", str(conf), read_only=True),
                               Mount("bind", "/srv/deep/data", str(data))))
    assert (code, out.split()) == (0, ["key=value", "/srv/deep/data"])


def test_host_pid_and_network_namespaces_when_asked(svc, rootfs):
    code, out, _ = run(svc, rootfs, "sh", "-c", "echo $$; ls /sys/class/net | wc -l; ls /proc | grep -c '^[0-9]'",
                       namespaces=("mount", "ipc", "uts"))
    pid, links, procs = (int(x) for x in out.split())
    assert code == 0 and pid > 1
    assert links > 1 or len(os.listdir("/sys/class/net")) == 1  # the host's links (others make some concurrently)
    assert procs > 10


def test_group_add(svc, rootfs):
    code, out, _ = run(svc, rootfs, "id", "-G", user="nobody", group_add=("root", "4242"))
    assert (code, sorted(out.split())) == (0, sorted(["65534", "0", "4242"]))


def test_join_another_containers_pid_and_ipc_namespaces(svc, rootfs):
    from runtime.spec import ContainerSpec

    first = svc.create(None, ContainerSpec(args=("sleep", "100"), rootfs=rootfs))
    svc.start(first)
    pid = svc.inspect(first).pid
    joins = {"pid": f"/proc/{pid}/ns/pid", "ipc": f"/proc/{pid}/ns/ipc"}
    code, out, _ = run(svc, rootfs, "sh", "-c", "ps -o pid,comm | grep -c sleep; readlink /proc/self/ns/ipc",
                       namespaces=("mount", "uts", "net", "cgroup"), join_namespaces=joins)
    assert code == 0
    sleeps, ipc = out.split()
    assert sleeps == "1"  # the first container's sleep, seen from the second
    assert ipc == os.readlink(f"/proc/{pid}/ns/ipc")
