#!/usr/bin/env node
/**
 * Pins GitHub Actions' OIDC signing keys into src/oidc/github-jwks.ts, the trust material the
 * verifier checks workflow tokens against (docs/verify.md, "Workflow token").
 *
 *   node scripts/pin-github-jwks.mjs                 fetch the live JWKS and pin its keys
 *   node scripts/pin-github-jwks.mjs --from FILE --where TEXT
 *                                                    pin the keys of a JWKS copy, saying where
 *                                                    it was taken from
 *   node scripts/pin-github-jwks.mjs --check         exit 1 if the live set has keys not pinned
 *   --file PATH                                      another copy of github-jwks.ts (tests)
 *
 * Keys already pinned are kept (GitHub retires keys; bundles signed with them must keep
 * verifying); a new key is added with where and when it was taken; the set's `takenAt` becomes
 * the time of this run. Every key is checked as the verifier reads it (RSA, `kid`, `n`, `e`,
 * modulus of 2048 bits or more). The pinned data sits between the BEGIN/END markers of the
 * file as JSON.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ISSUER_JWKS = 'https://token.actions.githubusercontent.com/.well-known/jwks';
const DEFAULT_FILE = fileURLToPath(new URL('../src/oidc/github-jwks.ts', import.meta.url));
const BEGIN = '// BEGIN PINNED (written by scripts/pin-github-jwks.mjs)';
const END = '// END PINNED';
const MIN_BITS = 2048;

function fail(message) {
  process.stderr.write(`pin-github-jwks: ${message}\n`);
  process.exit(2);
}

/** The RSA signature keys of a JWKS document, checked. */
function rsaKeys(text, name) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    fail(`${name}: not JSON`);
  }
  if (!Array.isArray(doc?.keys)) fail(`${name}: expected {"keys": [...]}`);
  const out = [];
  for (const [i, k] of doc.keys.entries()) {
    if (k?.kty !== 'RSA' || (k.use !== undefined && k.use !== 'sig')) continue;
    if (typeof k.kid !== 'string' || typeof k.n !== 'string' || typeof k.e !== 'string')
      fail(`${name}: keys.${i}: an RSA key needs kid, n and e`);
    if (!/^[A-Za-z0-9_-]+$/.test(k.n) || !/^[A-Za-z0-9_-]+$/.test(k.e))
      fail(`${name}: keys.${i}: n and e must be base64url`);
    const n = Buffer.from(k.n, 'base64url');
    if ((n.length - (n[0] === 0 ? 1 : 0)) * 8 < MIN_BITS)
      fail(`${name}: keys.${i}: modulus under ${MIN_BITS} bits`);
    out.push({ kid: k.kid, n: k.n, e: k.e });
  }
  if (out.length === 0) fail(`${name}: no RSA signature key`);
  return out;
}

async function readPinned(file) {
  const text = await readFile(file, 'utf8');
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a < 0 || b < a) fail(`${file}: the BEGIN/END markers are missing`);
  const block = text.slice(a + BEGIN.length, b);
  const json = block.slice(block.indexOf('{'), block.lastIndexOf('}') + 1);
  return { text, a, b, pinned: JSON.parse(json) };
}

const { values } = parseArgs({
  options: {
    from: { type: 'string' },
    where: { type: 'string' },
    check: { type: 'boolean', default: false },
    file: { type: 'string', default: DEFAULT_FILE },
  },
});
if (values.from !== undefined && values.where === undefined)
  fail('--from needs --where: say where the copy was taken from (repository, commit, path)');

let text;
let where;
if (values.from !== undefined) {
  text = await readFile(values.from, 'utf8');
  where = values.where;
} else {
  const res = await fetch(ISSUER_JWKS, { signal: AbortSignal.timeout(30_000) }).catch((e) =>
    fail(`${ISSUER_JWKS}: ${e.message} (no network? use --from with a copy)`),
  );
  if (!res.ok) fail(`${ISSUER_JWKS}: HTTP ${res.status}`);
  text = await res.text();
  where = ISSUER_JWKS;
}
const fresh = rsaKeys(text, values.from ?? ISSUER_JWKS);
const { text: file, a, b, pinned } = await readPinned(values.file);
const known = new Map(pinned.keys.map((k) => [k.kid, k]));
const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const added = [];
for (const k of fresh) {
  const old = known.get(k.kid);
  if (old !== undefined) {
    if (old.n !== k.n || old.e !== k.e)
      fail(`key ${k.kid} is pinned with another modulus: refusing to replace it`);
    continue;
  }
  added.push({ ...k, from: where, takenAt: now });
}
if (values.check) {
  for (const k of added) process.stdout.write(`not pinned: ${k.kid}\n`);
  process.exit(added.length === 0 ? 0 : 1);
}
const next = {
  source: ISSUER_JWKS,
  takenAt: now,
  keys: [...added, ...pinned.keys],
};
const body = `${BEGIN}\n// prettier-ignore\nconst PINNED: PinnedJwks = ${JSON.stringify(next, null, 2)};\n`;
await writeFile(values.file, file.slice(0, a) + body + file.slice(b));
process.stdout.write(
  `${added.length} key(s) added, ${pinned.keys.length} kept: ${added.map((k) => k.kid).join(', ') || 'none new'}\n`,
);
