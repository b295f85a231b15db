#!/bin/sh
# Resolves the Debian package closure of a recipe once, from a mirror, and prints it as the
# recipe's pinned `packages` array (name, exact version, pool path, SHA-256).
#
#   enclave/images/lock.sh <suite> <mirror> <comma-separated packages> > packages.json
#
# Pins are then reviewed and committed; `tee-compile image build` never resolves anything itself.
set -eu
suite=$1 mirror=$2 include=$3
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export LOCK_OUT="$out"
mmdebstrap --quiet --mode=root --variant=essential --include="$include" \
  --customize-hook='dpkg-query --admindir="$1/var/lib/dpkg" -W -f="\${Package} \${Version} \${Architecture}\n" | sort > "$LOCK_OUT/pkgs"; cp "$1"/var/lib/apt/lists/*_Packages "$LOCK_OUT/"' \
  "$suite" /dev/null "$mirror" >&2
node "$(dirname "$0")/lock-packages.mjs" "$out/pkgs" "$out"/*_Packages
