#!/usr/bin/env bash
# Builds the tee-compile enclave images on a Nitro host and records their measurements.
#
# usage: enclave/build-images.sh --url-base https://<where the .eif files will be published> [language...]
#        [--out DIR]
#
# For each language (default: every image in enclave/images.json): writes the image descriptor,
# builds the Docker image from enclave/images/<language>/Dockerfile, converts it to an EIF with
# `nitro-cli build-enclave`, checks nitro-cli's PCRs against tee-compile's own EIF measurement, and
# records PCR0/1/2, the EIF's SHA-256, size and download URL in enclave/images.json. Then publish
# the .eif files at --url-base and commit enclave/images.json (docs/nitro-host.md).
#
# Needs: Docker Engine with buildx >= 0.13 (for rewrite-timestamp), nitro-cli with
# aws-nitro-enclaves-cli-devel (kernel and init blobs), node >= 20 and npm, and a checkout of a
# tagged release with `npm ci` done.
set -euo pipefail

die() {
  echo "build-images: $*" >&2
  exit 1
}

usage() {
  sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

OUT=enclave/build/out
URL_BASE=""
LANGS=()
while (($# > 0)); do
  case "$1" in
    --url-base)
      URL_BASE=${2:-}
      shift 2 || die "--url-base needs a value"
      ;;
    --out)
      OUT=${2:-}
      shift 2 || die "--out needs a value"
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*) die "unknown option $1 (see --help)" ;;
    *)
      LANGS+=("$1")
      shift
      ;;
  esac
done

[[ $URL_BASE == https://* ]] || die "--url-base https://... is required: where the .eif files will be downloaded from"
URL_BASE=${URL_BASE%/}

for cmd in docker nitro-cli node npm npx sha256sum; do
  command -v "$cmd" >/dev/null 2>&1 || die "$cmd is required"
done
docker buildx version >/dev/null 2>&1 || die "docker buildx is required (>= 0.13)"

# File times inside the image must not depend on when it was built: BuildKit clamps them to
# SOURCE_DATE_EPOCH with rewrite-timestamp. 1766966400 = 2025-12-29T00:00:00Z, the Debian
# snapshot date of the recipes.
SOURCE_DATE_EPOCH=1766966400
export SOURCE_DATE_EPOCH

echo "== building tee-compile and bundling the worker" >&2
[[ -f src/worker/main.ts ]] || die "src/worker/main.ts is missing"
npm run --silent build
mkdir -p enclave/build "$OUT"
npx esbuild src/worker/main.ts --bundle --platform=node --target=node22 --format=esm \
  --legal-comments=none --log-level=warning --outfile=enclave/build/worker.mjs \
  "--banner:js=import { createRequire as teeCreateRequire } from 'node:module'; const require = teeCreateRequire(import.meta.url);"

echo "== checking enclave/images.json against the recipes" >&2
node scripts/images.mjs check ||
  die "enclave/images.json is out of date: run 'node scripts/images.mjs refresh' and commit it first"

if ((${#LANGS[@]} == 0)); then
  mapfile -t LANGS < <(node scripts/images.mjs languages)
fi

for lang in "${LANGS[@]}"; do
  read -r name version < <(node scripts/images.mjs current "$lang") ||
    die "no image for language $lang in enclave/images.json"
  tag="tee-compile-$name:$version"
  eif="$OUT/$name-$version.eif"
  measurements="$OUT/$name-$version.measurements.json"
  echo "== $lang: $name $version" >&2

  mkdir -p "enclave/build/$lang"
  node scripts/images.mjs image-json "$lang" >"enclave/build/$lang/image.json"

  docker buildx build \
    --file "enclave/images/$lang/Dockerfile" \
    --platform linux/amd64 \
    --build-arg SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" \
    --provenance=false \
    --output "type=docker,name=$tag,rewrite-timestamp=true" \
    .

  # nitro-cli prints {"Measurements": {...}} on stdout, progress on stderr.
  nitro-cli build-enclave --docker-uri "$tag" --output-file "$eif" \
    --name "$name" --version "$version" >"$measurements"

  node scripts/images.mjs record "$lang" --eif "$eif" --measurements "$measurements" \
    --url "$URL_BASE/$(basename "$eif")"
  (cd "$(dirname "$eif")" && sha256sum "$(basename "$eif")" >"$(basename "$eif").sha256")
done

echo "== done: publish $OUT/*.eif at $URL_BASE/ and commit enclave/images.json" >&2
