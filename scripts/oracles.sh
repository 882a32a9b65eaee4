#!/usr/bin/env bash
# Install the WeChat compilers the differential test (tests/compiler/test_wcc_differential.py) compares
# minibox against: miniprogram-compiler ships WeChat's own wcc/wcsc binaries (Linux x86-64),
# glass-easel-template-compiler is WeChat's open-source template compiler. Test-only; never shipped.
set -euo pipefail
cd "$(dirname "$0")/.."
ORACLES="tests/.oracles"
mkdir -p "$ORACLES"
[ -f "$ORACLES/package.json" ] || echo '{"name": "minibox-oracles", "private": true}' > "$ORACLES/package.json"
npm install --prefix "$ORACLES" --no-audit --no-fund --loglevel=error --save-exact \
  miniprogram-compiler@0.2.3 glass-easel-template-compiler@1.1.0
chmod +x "$ORACLES"/node_modules/miniprogram-compiler/bin/linux/wcc "$ORACLES"/node_modules/miniprogram-compiler/bin/linux/wcsc
