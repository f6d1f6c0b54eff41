#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine, as root: installs what the tests need
# (Debian packages and a venv with the project and its test extras), then runs pytest.
# Usage: bash scripts/run-tests.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(busybox-static docker-registry apache2-utils nftables iptables runc python3-venv gcc libc6-dev)  # gcc: builds the small C container monitor (runtime/native)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# docker-registry's package enables a system service; the tests start their own registry on 127.0.0.1.

PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[test]"

"$VENV/bin/lint-imports" --config pyproject.toml
"$VENV/bin/mypy"  # compose and runtime, as [tool.mypy] in pyproject.toml says
export PYCOMPOSE_LEAK_CHECK=1
exec "$VENV/bin/python" -m pytest "$@"
