#!/usr/bin/env bash
# Proof that the README's two commands work on a fresh machine: a Debian bookworm chroot made
# with mmdebstrap (minbase + git + ca-certificates, nothing else; the release, updates and
# security sources a Debian installation lists), Node.js 20 copied in as the
# official binary tarball would install it (node and npm under /usr/local), and this repository's
# committed HEAD cloned in. Inside, as a new user would: `npm ci && npm run demo`, then
# `bash scripts/test-fresh.sh` (which installs the suite's Debian packages itself).
#
#   sudo bash scripts/fresh-machine.sh [jest arguments…]
#
# Jest arguments (test paths) limit the test command's jest run to those suites; lint, format,
# type-check and build run whole either way. Needs root, mmdebstrap and the network to reach
# deb.debian.org and the npm registry.
#   FRESH_BASE_TAR=<file>  a tarball made earlier with the same mmdebstrap command (saves a minute)
#   FRESH_KEEP=1           keep the chroot (its path is printed)
#   FRESH_ONLY=main        run the main command only (not the test command)
# Behind a TLS-intercepting proxy, the host's NODE_EXTRA_CA_CERTS file is copied in and set (the
# network's need, not the project's).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "fresh-machine: run as root (chroot, mounts)" >&2; exit 2; }
command -v mmdebstrap >/dev/null || { echo "fresh-machine: needs mmdebstrap (apt-get install mmdebstrap)" >&2; exit 2; }

root=$(mktemp -d "${TMPDIR:-/tmp}/tee-compile-fresh.XXXXXX")
mounted=()
cleanup() {
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
  if [ "${FRESH_KEEP:-}" = 1 ]; then echo "fresh-machine: kept $root"; else rm -rf --one-file-system "$root"; fi
}
trap cleanup EXIT

echo "== fresh Debian bookworm in $root"
if [ -n "${FRESH_BASE_TAR:-}" ]; then
  tar -xf "$FRESH_BASE_TAR" -C "$root"
else
  mmdebstrap --variant=minbase --include=git,ca-certificates bookworm "$root"
fi

# The package sources a Debian installation lists: the release, its updates and its security
# updates (mmdebstrap's default is the release alone).
cat >"$root/etc/apt/sources.list" <<'SOURCES'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
rm -f "$root/etc/apt/sources.list.d/"*.sources "$root/etc/apt/sources.list.d/"*.list

echo "== Node.js $(node --version) (node and npm, as the official tarball installs them)"
node_bin=$(command -v node)
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
install -D -m 0755 "$(readlink -f "$node_bin")" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules"
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

echo "== the repository at $(git -C "$repo" rev-parse HEAD)"
git clone -q --no-hardlinks "$repo" "$root/root/tee-compile"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# The chroot's / is a mount point, as on a machine: the local backend's sandbox changes its
# propagation.
mount --bind "$root" "$root"
mounted+=("$root")
for m in proc sys dev; do
  mount --rbind "/$m" "$root/$m"
  mount --make-rslave "$root/$m"
  mounted+=("$root/$m")
done

extra=()
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  cp "$NODE_EXTRA_CA_CERTS" "$root/etc/ssl/certs/network-proxy-ca.pem"
  extra+=(NODE_EXTRA_CA_CERTS=/etc/ssl/certs/network-proxy-ca.pem)
fi

args=$(printf ' %q' "$@")
chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 TERM=dumb "${extra[@]}" \
  /bin/bash -c "set -euo pipefail
    cd /root/tee-compile
    echo '== fresh machine: node' \$(node --version) ', npm' \$(npm --version) ', git' \$(git --version)
    for c in go gcc cargo; do command -v \$c >/dev/null && { echo \"fresh-machine: \$c is already here\"; exit 1; }; done
    echo '== README main command: npm ci && npm run demo'
    npm ci --no-audit --no-fund
    npm run demo
    [ '${FRESH_ONLY:-}' = main ] && { echo '== fresh machine: the README main command passed'; exit 0; }
    echo '== README test command: bash scripts/test-fresh.sh$args'
    bash scripts/test-fresh.sh$args
    echo '== fresh machine: both README commands passed'"
