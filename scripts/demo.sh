#!/usr/bin/env bash
# Installs pycompose on a fresh Debian machine (as root) and runs the demo project in samples/demo:
# `up` (building its image with pycompose's own builder), shows that it works, then `down`.
# Usage: bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(busybox-static python3-venv gcc libc6-dev nftables)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

VENV=${VENV:-.venv-demo}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q .
pc="$VENV/bin/pycompose"

samples/demo/make-rootfs.sh
started_engine=0
"$pc" engine status >/dev/null 2>&1 || started_engine=1   # `up` starts the engine in the background

set -x
"$pc" -f samples/demo/compose.yaml up -d --build --wait
"$pc" -f samples/demo/compose.yaml ps
busybox wget -q -O - http://127.0.0.1:18080/
"$pc" -f samples/demo/compose.yaml logs client
"$pc" -f samples/demo/compose.yaml down
set +x
if [ "$started_engine" = 1 ]; then "$pc" engine stop; fi
echo "demo: OK"
