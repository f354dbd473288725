#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
# Runs README's two commands as a fresh Debian 12 machine runs them: a clean
# `debootstrap --variant=minbase bookworm` root, a fresh clone of this repository's HEAD copied
# into it, then ./scripts/main.sh and ./scripts/test.sh through chroot, each timed.
#
#   sudo ./scripts/fresh-check.sh            # HEAD of this checkout
#   VPRIM_FRESH_REF=some-branch sudo ./scripts/fresh-check.sh
#
# Needs root (debootstrap, chroot, mounts) and the Debian mirror. The pristine root is built once
# and kept as a tarball ($VPRIM_FRESH_CACHE), so later runs start from an identical clean root
# without downloading it again; delete the tarball to rebuild it. Logs go to $VPRIM_FRESH_LOGS.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${VPRIM_FRESH_DIR:-/tmp/vprim-fresh}
cache=${VPRIM_FRESH_CACHE:-/tmp/vprim-fresh-bookworm-minbase.tar}
logs=${VPRIM_FRESH_LOGS:-$work/logs}
ref=${VPRIM_FRESH_REF:-HEAD}
mirror=${VPRIM_FRESH_MIRROR:-http://deb.debian.org/debian}

if [ "$(id -u)" -ne 0 ]; then
  echo "fresh-check: needs root (debootstrap, chroot and mounts)" >&2
  exit 1
fi
command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap; }

root=$work/root
cleanup() {
  for m in proc sys dev/pts dev; do
    mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m" || true
  done
}
trap cleanup EXIT
cleanup
rm -rf "$root"
mkdir -p "$root" "$logs"

if [ ! -s "$cache" ]; then
  echo "fresh-check: debootstrap --variant=minbase bookworm (once; cached in $cache)"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$logs/debootstrap.log" 2>&1 ||
    { tail -20 "$logs/debootstrap.log" >&2; exit 1; }
  tar -C "$root" -cf "$cache" .
else
  tar -C "$root" -xf "$cache"
fi

# A fresh clone (what CI and a new user get), not this working tree.
git clone -q --no-local "$repo" "$root/root/vprim"
git -C "$root/root/vprim" checkout -q "$(git -C "$repo" rev-parse "$ref")"
echo "fresh-check: $(git -C "$root/root/vprim" log -1 --format='%h %s' | cut -c1-100)"

cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"

status=0
for cmd in ./scripts/main.sh ./scripts/test.sh; do
  name=$(basename "$cmd" .sh)
  start=$(date +%s)
  set +e
  chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "cd /root/vprim && $cmd" >"$logs/$name.log" 2>&1
  rc=$?
  set -e
  took=$(($(date +%s) - start))
  printf 'fresh-check: %-18s rc=%d  %dm%02ds  (log: %s)\n' "$cmd" "$rc" $((took / 60)) $((took % 60)) "$logs/$name.log"
  if [ "$rc" -ne 0 ]; then
    tail -25 "$logs/$name.log" | sed 's/^/    /'
    status=1
  fi
done
exit $status
