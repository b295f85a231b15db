#!/usr/bin/env node
// Turns a resolved Debian package set into the `packages` array of a recipe.json.
//
//   node enclave/images/lock-packages.mjs <pkgs> <Packages>...
//
// <pkgs>: "name version architecture" per line (dpkg-query -W in the tree mmdebstrap resolved);
// <Packages>: the mirror's Packages indexes mmdebstrap used. See enclave/images/lock.sh.
import { readFileSync } from 'node:fs';

const [pkgsFile, ...indexes] = process.argv.slice(2);
if (pkgsFile === undefined || indexes.length === 0) {
  console.error('usage: lock-packages.mjs <pkgs> <Packages>...');
  process.exit(2);
}
const index = new Map();
for (const f of indexes)
  for (const stanza of readFileSync(f, 'utf8').split(/\n\n+/)) {
    const field = (k) => new RegExp(`^${k}: (.*)$`, 'm').exec(stanza)?.[1];
    const name = field('Package');
    if (name === undefined) continue;
    index.set(`${name} ${field('Version')} ${field('Architecture')}`, {
      name,
      version: field('Version'),
      architecture: field('Architecture'),
      filename: field('Filename'),
      sha256: field('SHA256'),
    });
  }
const out = [];
for (const line of readFileSync(pkgsFile, 'utf8').split('\n')) {
  if (line.trim() === '') continue;
  const p = index.get(line.trim());
  if (p === undefined) {
    console.error(`not in the indexes: ${line}`);
    process.exit(1);
  }
  out.push(p);
}
out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
console.log(JSON.stringify(out, null, 2));
