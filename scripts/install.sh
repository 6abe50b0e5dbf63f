#!/usr/bin/env bash
# Installs altnet as a system service on Raspberry Pi OS / Debian (run from a source checkout,
# as root). What it puts where:
#   /opt/altnet/                     the compiled daemon, board profiles, production node_modules
#   /opt/altnet/bin/altnet           launcher; /usr/local/bin/altnet links to it
#   /etc/altnet/altnet.conf          from altnet.conf.example, only if there is none yet
#   /etc/systemd/system/altnet.service (+ altnet.service.d/ble.conf with --ble)
#   /etc/udev/rules.d/70-altnet.rules   stable /dev/altnet/<board>-<n> names for USB radios
#   user and group `altnet`          the service's own account (in group dialout for serial)
# With DESTDIR (or --destdir) everything goes under that directory instead and nothing on the
# running system is touched: no user is created, no systemctl, no udevadm (packaging, tests).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/install.sh [options]
  --prefix=DIR     where the program goes (default /opt/altnet)
  --destdir=DIR    stage the install under DIR (same as DESTDIR=DIR); touches nothing else
  --ble            also allow Bluetooth LE links (AF_BLUETOOTH + raw HCI capabilities)
  --no-npm         do not run `npm ci --omit=dev` in the prefix (node_modules are your job)
  --no-start       install and enable, but do not (re)start the service
  -h, --help       this text
EOF
}

SRC="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX=/opt/altnet
DESTDIR="${DESTDIR:-}"
BLE=0
NPM=1
START=1
for arg in "$@"; do
  case "$arg" in
    --prefix=*) PREFIX="${arg#*=}" ;;
    --destdir=*) DESTDIR="${arg#*=}" ;;
    --ble) BLE=1 ;;
    --no-npm) NPM=0 ;;
    --no-start) START=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $arg" >&2; usage >&2; exit 2 ;;
  esac
done
case "$PREFIX" in
  /*) ;;
  *) echo "install.sh: --prefix must be an absolute path" >&2; exit 2 ;;
esac
if [ -n "$DESTDIR" ]; then
  mkdir -p "$DESTDIR"
  DESTDIR="$(cd "$DESTDIR" && pwd)"
fi
LIVE=1
[ -n "$DESTDIR" ] && LIVE=0

say() { echo "install: $*"; }
run_live() {
  # Commands that change the running system: skipped (and shown) when staging into DESTDIR.
  if [ "$LIVE" = 1 ]; then "$@"; else say "(DESTDIR set, not running) $*"; fi
}

if [ "$LIVE" = 1 ] && [ "$(id -u)" != 0 ]; then
  echo "install.sh: run as root (sudo scripts/install.sh), or stage with DESTDIR=..." >&2
  exit 1
fi

command -v node >/dev/null || { echo "install.sh: Node.js 20.16 or newer is needed (apt-get install nodejs)" >&2; exit 1; }
# 20.16: process.getBuiltinModule (src/links/source/dial.ts).
if [ "$(node -p 'typeof process.getBuiltinModule')" != function ]; then
  echo "install.sh: Node.js $(node --version) is too old; altnet needs 20.16 or newer" >&2
  exit 1
fi
NODE_BIN="$(command -v node)"

# 1. Build, if this checkout has not been built yet (needs the dev dependencies).
if [ ! -f "$SRC/dist/src/cli/main.cjs" ]; then
  say "building (npm ci, npm run build: tsc and the driver bundle)"
  (cd "$SRC" && npm ci --no-audit --no-fund && npm run build)
fi

# 2. Program files.
APP="$DESTDIR$PREFIX"
say "program -> $APP"
mkdir -p "$APP/bin" "$APP/dist" "$APP/docs"
rm -rf "$APP/dist/src" "$APP/boards"
# -p keeps modification times: the supervisor runs the driver bundle only when it is at least
# as new as the compiled driver-host.js (src/gateway/supervisor.ts driverHostEntry).
cp -Rp "$SRC/dist/src" "$APP/dist/src"
cp -R "$SRC/boards" "$APP/boards"
[ -d "$SRC/codecs" ] && { rm -rf "$APP/codecs"; cp -R "$SRC/codecs" "$APP/codecs"; }
cp "$SRC/package.json" "$SRC/package-lock.json" "$APP/"
# The pages the unit's Documentation= names: README and docs/*.md (links.md: every link key).
rm -f "$APP"/docs/*.md
cp "$SRC"/docs/*.md "$APP/docs/"
cp "$SRC/README.md" "$APP/README.md"
cp "$SRC/altnet.conf.example" "$APP/altnet.conf.example"
# The main process's V8 flags and malloc environment, from the one table in
# src/util/node-memory.ts (MAIN_NODE_FLAGS, MEMORY_ENV; the supervisor gives the link driver
# processes theirs). Values are plain words (no spaces or quotes).
MEMORY_ENV="$("$NODE_BIN" --input-type=module -e "const m = await import('$SRC/dist/src/util/node-memory.js'); console.log(Object.entries(m.MEMORY_ENV).map(([k, v]) => k + '=' + v).join(' '))")"
MAIN_FLAGS="$("$NODE_BIN" --input-type=module -e "const m = await import('$SRC/dist/src/util/node-memory.js'); console.log(m.MAIN_NODE_FLAGS.join(' '))")"
cat >"$APP/bin/altnet" <<EOF
#!/bin/sh
# altnet launcher, written by scripts/install.sh: Node with altnet's memory settings
# (src/util/node-memory.ts).
exec env $MEMORY_ENV "$NODE_BIN" $MAIN_FLAGS "$PREFIX/dist/src/cli/main.cjs" "\$@"
EOF
chmod 0755 "$APP/bin/altnet"
mkdir -p "$DESTDIR/usr/local/bin"
ln -sfn "$PREFIX/bin/altnet" "$DESTDIR/usr/local/bin/altnet"

if [ "$NPM" = 1 ]; then
  say "production dependencies (npm ci --omit=dev)"
  (cd "$APP" && npm ci --omit=dev --no-audit --no-fund)
fi

# 3. Configuration: never overwrite the operator's file.
ETC="$DESTDIR/etc/altnet"
mkdir -p "$ETC"
if [ -e "$ETC/altnet.conf" ]; then
  say "keeping existing $ETC/altnet.conf (the new example is $APP/altnet.conf.example)"
else
  install -m 0640 "$SRC/altnet.conf.example" "$ETC/altnet.conf"
  say "wrote $ETC/altnet.conf from the example; edit it, then: systemctl restart altnet"
fi

# 4. systemd unit (+ BLE drop-in), with the prefix substituted.
UNIT_DIR="$DESTDIR/etc/systemd/system"
mkdir -p "$UNIT_DIR"
sed "s#/opt/altnet#$PREFIX#g" "$SRC/systemd/altnet.service" >"$UNIT_DIR/altnet.service"
chmod 0644 "$UNIT_DIR/altnet.service"
if [ "$BLE" = 1 ]; then
  mkdir -p "$UNIT_DIR/altnet.service.d"
  install -m 0644 "$SRC/systemd/altnet.service.d/ble.conf" "$UNIT_DIR/altnet.service.d/ble.conf"
  say "Bluetooth LE enabled (altnet.service.d/ble.conf)"
else
  rm -f "$UNIT_DIR/altnet.service.d/ble.conf"
  rmdir "$UNIT_DIR/altnet.service.d" 2>/dev/null || true
fi

# 5. udev rules.
RULES_DIR="$DESTDIR/etc/udev/rules.d"
mkdir -p "$RULES_DIR"
install -m 0644 "$SRC/udev/70-altnet.rules" "$RULES_DIR/70-altnet.rules"

# 6. The service account, file ownership, and the running system.
if [ "$LIVE" = 1 ]; then
  if ! getent group altnet >/dev/null; then groupadd --system altnet; fi
  if ! getent passwd altnet >/dev/null; then
    useradd --system --gid altnet --home-dir /var/lib/altnet --no-create-home --shell /usr/sbin/nologin \
      --comment "altnet daemon" altnet
    say "created system user altnet"
  fi
  getent group dialout >/dev/null && usermod -a -G dialout altnet
  chown root:altnet "$ETC" "$ETC/altnet.conf"
  chmod 0750 "$ETC"
else
  say "(DESTDIR set, not running) useradd --system altnet; usermod -a -G dialout altnet; chown root:altnet /etc/altnet/altnet.conf"
fi
run_live udevadm control --reload-rules
run_live udevadm trigger --subsystem-match=tty --action=add
run_live systemctl daemon-reload
run_live systemctl enable altnet.service
if [ "$START" = 1 ]; then
  run_live systemctl restart altnet.service
fi

cat <<EOF
install: done.
  Next: edit /etc/altnet/altnet.conf (links, callsign), then \`systemctl restart altnet\`.
  In bitcoin.conf add:  addnode=127.0.0.1:8334   and restart bitcoind.
  Plugged-in radios:    altnet boards
  Logs:                 journalctl -u altnet -f
  As yourself:          sudo usermod -aG altnet \$USER   (then log in again) lets you run
                        \`altnet status\` and \`altnet send-tx\` on the service's /var/lib/altnet
EOF
