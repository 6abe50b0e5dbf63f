#!/usr/bin/env bash
# Brings a fresh Debian / Raspberry Pi OS machine (with Node.js 20+) to the point where
# `npm run demo` and `npm test` work: system tools, node modules, compiled output.
# Idempotent and quick when nothing changed, so npm runs it before `demo` and `test`.
# `setup.sh demo` skips the system packages: the demo needs only Node.js and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
purpose=${1:-test}

# socat: pty pairs; direwolf: AFSK modem tests; udev, systemd: rules and unit checks;
# openssl: test TLS certificates; util-linux: unshare for udevadm tests; chromium: the status
# page test in a real (headless) browser; microsocks: the upstream SOCKS5 proxy (Tor stand-in)
# behind the BIP324 proxy.
APT_PACKAGES=(socat direwolf udev iproute2 openssl systemd util-linux chromium microsocks)
missing=()
[ "$purpose" = demo ] && APT_PACKAGES=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  elif command -v sudo >/dev/null; then
    echo "setup: installing ${missing[*]} (sudo)" >&2
    sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: please install: ${missing[*]} (apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

# npm ci only when the lockfile changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund
fi

npx tsc -p tsconfig.json
# The link driver process as one esbuild bundle (issue 18, memory; scripts/bundle.mjs).
node scripts/bundle.mjs
touch dist/.build-stamp
