#!/usr/bin/env bash
# Set up minibox on a fresh machine: system packages (Debian's chromium for the browser view and
# its tests; node/npm for the npm component tests; wrk for the platform bench), a virtualenv,
# minibox and its dev extras.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
command -v wrk >/dev/null 2>&1 || need+=(wrk)  # HTTP load generator of bench/bench_platform.py
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)  # tests start their own on a free port
dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || need+=(fonts-wqy-microhei)  # CJK text in the zh-CN console
if ((${#need[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[dev]'
./scripts/oracles.sh  # WeChat's wcc/wcsc + glass-easel compiler for tests/compiler/test_wcc_differential.py
