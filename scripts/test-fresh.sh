#!/usr/bin/env bash
# The README's test command: on a fresh Debian/Ubuntu machine with Node.js 20+ and git, install
# the system packages the suite needs (scripts/system-packages.txt; with root or sudo), then
# `npm ci` and `npm test`. Arguments are handed to jest (e.g. a test path) to run part of it.
#
#   bash scripts/test-fresh.sh [jest arguments…]
#
# TEE_COMPILE_SKIP_INSTALL=1 skips the system packages (a machine set up otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
while read -r cmd pkgs; do
  case "$cmd" in '' | '#'*) continue ;; esac
  read -r -a list <<<"$pkgs"
  case "$cmd" in
    /*) [ -e "$cmd" ] || missing+=("${list[@]}") ;;
    *) command -v "$cmd" >/dev/null 2>&1 || missing+=("${list[@]}") ;;
  esac
done <scripts/system-packages.txt

if [ ${#missing[@]} -gt 0 ] && [ "${TEE_COMPILE_SKIP_INSTALL:-}" != 1 ]; then
  if [ "$(id -u)" = 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo)
  else
    echo "test-fresh: these Debian packages are missing: ${missing[*]}" >&2
    echo "test-fresh: install them (sudo apt-get install ${missing[*]}), or run this as root," >&2
    echo "test-fresh: or set TEE_COMPILE_SKIP_INSTALL=1 to run the suite without them" >&2
    exit 2
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "test-fresh: no apt-get here; install the equivalents of: ${missing[*]}" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  # "a|b": the first the distribution has.
  chosen=()
  for want in "${missing[@]}"; do
    pick=${want%%|*}
    IFS='|' read -r -a alternatives <<<"$want"
    for alt in "${alternatives[@]}"; do
      if apt-cache policy "$alt" 2>/dev/null | grep -q 'Candidate: [^(]'; then
        pick=$alt
        break
      fi
    done
    chosen+=("$pick")
  done
  echo "test-fresh: installing ${chosen[*]}"
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${chosen[@]}"
fi

npm ci
if [ $# -gt 0 ]; then
  npm test -- "$@"
else
  npm test
fi
