#!/usr/bin/env bash
# Removes what scripts/install.sh installed. Keeps the data directory (/var/lib/altnet: the
# header store and pending transactions), the config in /etc/altnet and the altnet user unless
# --purge is given. With DESTDIR (or --destdir) it works on that staging tree and does not
# touch the running system.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/uninstall.sh [--prefix=DIR] [--destdir=DIR] [--purge]
  --prefix=DIR   where the program was installed (default /opt/altnet)
  --destdir=DIR  work on a staged install under DIR (same as DESTDIR=DIR)
  --purge        also delete /var/lib/altnet, /etc/altnet and the altnet user
EOF
}

PREFIX=/opt/altnet
DESTDIR="${DESTDIR:-}"
PURGE=0
for arg in "$@"; do
  case "$arg" in
    --prefix=*) PREFIX="${arg#*=}" ;;
    --destdir=*) DESTDIR="${arg#*=}" ;;
    --purge) PURGE=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "uninstall.sh: unknown option $arg" >&2; usage >&2; exit 2 ;;
  esac
done
case "$PREFIX" in
  /*) ;;
  *) echo "uninstall.sh: --prefix must be an absolute path" >&2; exit 2 ;;
esac
# Refuse prefixes whose removal would be a disaster.
case "$PREFIX" in
  / | /usr | /usr/local | /opt | /etc | /var | /home) echo "uninstall.sh: refusing --prefix=$PREFIX" >&2; exit 2 ;;
esac
LIVE=1
[ -n "$DESTDIR" ] && LIVE=0
say() { echo "uninstall: $*"; }
run_live() {
  if [ "$LIVE" = 1 ]; then "$@"; else say "(DESTDIR set, not running) $*"; fi
}
if [ "$LIVE" = 1 ] && [ "$(id -u)" != 0 ]; then
  echo "uninstall.sh: run as root (sudo scripts/uninstall.sh), or use DESTDIR=..." >&2
  exit 1
fi

if [ "$LIVE" = 1 ] && command -v systemctl >/dev/null; then
  systemctl disable --now altnet.service 2>/dev/null || true
else
  say "(DESTDIR set, not running) systemctl disable --now altnet.service"
fi

rm -f "$DESTDIR/etc/systemd/system/altnet.service"
rm -f "$DESTDIR/etc/systemd/system/altnet.service.d/ble.conf"
rmdir "$DESTDIR/etc/systemd/system/altnet.service.d" 2>/dev/null || true
rm -f "$DESTDIR/etc/udev/rules.d/70-altnet.rules"
if [ -L "$DESTDIR/usr/local/bin/altnet" ]; then rm -f "$DESTDIR/usr/local/bin/altnet"; fi
rm -rf "$DESTDIR$PREFIX"
say "removed program, unit and udev rules"

if [ "$LIVE" = 1 ] && command -v systemctl >/dev/null; then systemctl daemon-reload || true; fi
run_live udevadm control --reload-rules

if [ "$PURGE" = 1 ]; then
  rm -rf "$DESTDIR/var/lib/altnet" "$DESTDIR/etc/altnet"
  if [ "$LIVE" = 1 ]; then
    if getent passwd altnet >/dev/null; then userdel altnet; fi
    if getent group altnet >/dev/null; then groupdel altnet 2>/dev/null || true; fi
  else
    say "(DESTDIR set, not running) userdel altnet"
  fi
  say "purged data, configuration and the altnet user"
else
  say "kept $DESTDIR/var/lib/altnet (data) and $DESTDIR/etc/altnet (config); --purge deletes them"
fi
