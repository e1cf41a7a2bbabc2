#!/bin/sh
# From a fresh clone to a first analysis in one command: installs the npm
# packages, builds, checks for a WebGPU adapter (`backward-lens doctor`) and, on a
# Debian/Ubuntu machine with none, installs Chromium's software Vulkan driver
# SwiftShader with apt-get (through sudo when not root), then runs the demo.
set -e
cd "$(dirname "$0")/.."

npm ci --no-audit --no-fund --loglevel=error
npm run --silent build

if ! node dist/cli.js doctor >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "quickstart: no WebGPU adapter on this machine; installing Chromium's SwiftShader (apt-get install chromium)"
    if [ "$(id -u)" = 0 ]; then as_root=""; else as_root="sudo"; fi
    $as_root apt-get update -qq
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  if ! node dist/cli.js doctor >/dev/null 2>&1; then
    node dist/cli.js doctor || true
    echo "quickstart: still no WebGPU adapter; install one of the drivers above, then run: npm run demo"
    exit 1
  fi
fi

node dist/cli.js doctor | grep -E '^(the engine uses|  found as)'
npm run --silent demo
