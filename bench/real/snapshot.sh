#!/usr/bin/env bash
# Makes the pinned snapshot of one corpus project: <name>.tar.gz (`git archive` of the commit,
# gzip -n) and <name>.commit (the raw commit object, whose id is the pin). The bench recreates
# the repository from both and checks the commit id, the tree id and the archive's SHA-256
# against bench/real/projects.json.
#
#   bash bench/real/snapshot.sh <git URL or local git dir> <commit> <out dir> <name>
#
# e.g. bash bench/real/snapshot.sh https://github.com/uuidjs/uuid 7017780… ~/.cache/tee-compile/corpus uuid
set -euo pipefail
src=$1 commit=$2 out=$3 name=$4
mkdir -p "$out"
if [ -d "$src" ] && git -C "$src" cat-file -e "$commit^{commit}" 2>/dev/null; then
  gitdir=$src
else
  gitdir=$(mktemp -d)
  trap 'rm -rf "$gitdir"' EXIT
  git init -q --bare "$gitdir"
  git -C "$gitdir" fetch -q --depth 1 "$src" "$commit"
fi
git -C "$gitdir" -c core.attributesFile=/dev/null archive --format=tar "$commit" | gzip -n -9 >"$out/$name.tar.gz"
git -C "$gitdir" cat-file commit "$commit" >"$out/$name.commit"
sha256sum "$out/$name.tar.gz"
