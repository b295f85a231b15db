#!/usr/bin/env bash
# The main job on the embedded default: build an example project with the local (simulated
# enclave) backend, then verify the bundle against its nonce and commit.
#
#   npm run demo [-- examples/<name>]      (default: examples/node-ts, which needs only Node.js)
#
# examples/rust-hello needs cargo, examples/go-hello a Go toolchain (scripts/system-packages.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

example=${1:-examples/node-ts}
nonce=$(node -e "process.stdout.write(require('node:crypto').randomBytes(32).toString('hex'))")
commit=$(git rev-parse HEAD)
out=${TMPDIR:-/tmp}/tee-compile-demo-$(basename "$example").bundle.tar.gz

echo "== build $example (local backend, nonce $nonce)"
node bin/tee-compile.js build "$example" --local --nonce "$nonce" --out "$out"
echo
echo "== verify $out"
node bin/tee-compile.js verify "$out" --allow-simulated --nonce "$nonce" --commit "$commit"
