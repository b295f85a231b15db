#!/usr/bin/env bash
# The main job on the embedded default: build an example project with the local (simulated
# enclave) backend, then verify the bundle against its nonce and commit.
#
#   npm run demo [-- examples/<name>]      (default: examples/node-ts, which needs only Node.js)
#
# examples/rust-hello needs cargo, examples/go-hello a Go toolchain (scripts/system-packages.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

# The local backend's sandbox needs `unshare` and `ip` (scripts/system-packages.txt names their
# packages): installed here when missing and this runs as root, else named.
need=()
for cmd in unshare ip; do
  command -v "$cmd" >/dev/null 2>&1 && continue
  read -r -a pkgs <<<"$(awk -v c="$cmd" '$1 == c { $1 = ""; print }' scripts/system-packages.txt)"
  need+=("${pkgs[@]}")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing ${need[*]} (the local backend's sandbox needs them)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  else
    echo "demo: the local backend's sandbox needs ${need[*]}: sudo apt-get install ${need[*]}" >&2
    exit 2
  fi
fi

example=${1:-examples/node-ts}
nonce=$(node -e "process.stdout.write(require('node:crypto').randomBytes(32).toString('hex'))")
commit=$(git rev-parse HEAD)
out=${TMPDIR:-/tmp}/tee-compile-demo-$(basename "$example").bundle.tar.gz

echo "== build $example (local backend, nonce $nonce)"
node bin/tee-compile.js build "$example" --local --nonce "$nonce" --out "$out"
echo
echo "== verify $out"
node bin/tee-compile.js verify "$out" --allow-simulated --nonce "$nonce" --commit "$commit"
