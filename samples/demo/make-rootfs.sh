#!/usr/bin/env bash
# Makes busybox-rootfs.tar beside this script: Debian's busybox-static, one symlink per applet, root and nobody.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ -s "$here/busybox-rootfs.tar" ] && exit 0
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,var/www,run}
chmod 1777 "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list-full); do
  [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
echo '<h1>Hello from pycompose</h1>' > "$root/var/www/index.html"
tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$here/busybox-rootfs.tar" .
