#!/usr/bin/env bash
# What the browser tests need, installed only when missing (idempotent): Debian's Chromium (the
# tests never download a browser) and playwright-core at the version pinned in e2e/package-lock.json.
#
# Usage: scripts/setup-browser.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
fi

if [ ! -x /usr/bin/chromium ]; then
  echo "browser: installing Debian's chromium"
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get install -y chromium chromium-driver; then
    # The package lists may be stale or absent: refresh them once and try again.
    $SUDO apt-get update
    $SUDO apt-get install -y chromium chromium-driver
  fi
fi

if [ ! -d "$ROOT/e2e/node_modules/playwright-core" ]; then
  echo "browser: installing e2e dependencies (npm ci)"
  npm ci --prefix "$ROOT/e2e" --no-audit --no-fund
fi
