#!/bin/sh
# Points apt at one snapshot.debian.org date, so that every build of an image installs the same
# package versions. apt still checks each package against the archive's signed Release file.
# Usage: apt-snapshot <YYYYMMDDTHHMMSSZ>
set -eu
stamp="$1"
case "$stamp" in
  [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z) ;;
  *) echo "apt-snapshot: expected a timestamp like 20251229T000000Z, got '$stamp'" >&2; exit 2 ;;
esac
rm -f /etc/apt/sources.list.d/debian.sources
cat > /etc/apt/sources.list <<LIST
deb http://snapshot.debian.org/archive/debian/${stamp} bookworm main
deb http://snapshot.debian.org/archive/debian/${stamp} bookworm-updates main
deb http://snapshot.debian.org/archive/debian-security/${stamp} bookworm-security main
LIST
# Snapshot Release files are past their Valid-Until date by design.
printf 'Acquire::Check-Valid-Until "false";\nAcquire::Retries "5";\nAPT::Install-Recommends "false";\n' \
  > /etc/apt/apt.conf.d/80tee-compile-snapshot
