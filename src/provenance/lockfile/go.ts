/**
 * go.sum and the parts of go.mod that tell which modules are required directly and which are
 * replaced by directories (Go Modules Reference, "go.sum files" and "go.mod files"). Pure.
 */
import { parseGoH1 } from './digests.js';
import { provenanceError } from '../errors.js';
import { byPurl, staysInside } from './npm.js';
import { purl } from './purl.js';
import type { LockedDependency } from '../types.js';

/** Module paths: Go's module.CheckPath allows letters, digits and `-._~/` (plus `+!` in practice). */
const MODULE_PATH_RE = /^[A-Za-z0-9._~+!-]+(?:\/[A-Za-z0-9._~+!-]+)*$/;
/** Canonical semantic versions as Go writes them, pseudo-versions and `+incompatible` included. */
const GO_VERSION_RE = /^v[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.-]+)?(?:\+incompatible)?$/;

/** One module version as go.sum pins it. */
export interface GoSumEntry {
  module: string;
  version: string;
  /** `h1:` of the module zip, when listed. */
  zip?: string;
  /** `h1:` of the go.mod file, when listed. */
  goMod?: string;
}

function validModulePath(p: string): boolean {
  return MODULE_PATH_RE.test(p) && !p.split('/').some((s) => s === '.' || s === '..');
}

/** Parses go.sum: one `<module> <version>[/go.mod] h1:<base64>` per line (blank lines allowed). */
export function parseGoSum(text: string, file = 'go.sum'): GoSumEntry[] {
  const entries = new Map<string, GoSumEntry>();
  text.split('\n').forEach((line, i) => {
    const f = line
      .trim()
      .split(/\s+/)
      .filter((x) => x !== '');
    if (f.length === 0) return;
    const at = `line ${i + 1}`;
    if (f.length !== 3) {
      throw provenanceError(
        'LOCKFILE_MALFORMED',
        `${file}: ${at}: expected "<module> <version> h1:<hash>"; run \`go mod tidy\``,
        at,
      );
    }
    const [mod, ver, hash] = f as [string, string, string];
    const isMod = ver.endsWith('/go.mod');
    const version = isMod ? ver.slice(0, -'/go.mod'.length) : ver;
    if (!validModulePath(mod)) {
      throw provenanceError(
        'LOCKFILE_MALFORMED',
        `${file}: ${at}: invalid module path ${JSON.stringify(mod)}`,
        at,
      );
    }
    if (!GO_VERSION_RE.test(version)) {
      throw provenanceError(
        'LOCKFILE_MALFORMED',
        `${file}: ${at}: invalid version ${JSON.stringify(ver)}`,
        at,
      );
    }
    if (!hash.startsWith('h1:')) {
      throw provenanceError(
        'LOCKFILE_UNSUPPORTED',
        `${file}: ${at}: only h1: hashes are supported, found ${JSON.stringify(hash.slice(0, 10))}`,
        at,
      );
    }
    if (parseGoH1(hash) === null) {
      throw provenanceError(
        'LOCKFILE_MALFORMED',
        `${file}: ${at}: malformed h1: hash (expected base64 of 32 bytes)`,
        at,
      );
    }
    const key = `${mod}@${version}`;
    const e = entries.get(key) ?? { module: mod, version };
    const slot = isMod ? 'goMod' : 'zip';
    if (e[slot] !== undefined && e[slot] !== hash) {
      throw provenanceError(
        'LOCKFILE_MALFORMED',
        `${file}: ${at}: two different hashes for ${mod} ${ver}`,
        at,
      );
    }
    e[slot] = hash;
    entries.set(key, e);
  });
  return [...entries.values()];
}

/** What tee-compile needs from go.mod. */
export interface GoModInfo {
  module: string | null;
  requires: { module: string; version: string; indirect: boolean }[];
  replaces: { from: string; fromVersion?: string; to: string; toVersion?: string }[];
}

/** Splits a go.mod line into tokens (quoted strings unquoted), noting an `// indirect` comment. */
function tokens(line: string): { toks: string[]; indirect: boolean } {
  const toks: string[] = [];
  let i = 0;
  let indirect = false;
  while (i < line.length) {
    const ch = line[i]!;
    if (ch === ' ' || ch === '\t') {
      i++;
    } else if (line.startsWith('//', i)) {
      indirect = /^\/\/\s*indirect\b/.test(line.slice(i));
      break;
    } else if (ch === '"' || ch === '`') {
      const end = line.indexOf(ch, i + 1);
      if (end < 0) throw new Error('unterminated quoted string');
      const q = line.slice(i, end + 1);
      toks.push(ch === '"' ? (JSON.parse(q) as string) : q.slice(1, -1));
      i = end + 1;
    } else if (ch === '(' || ch === ')') {
      toks.push(ch);
      i++;
    } else {
      let j = i;
      while (j < line.length && !' \t"`()'.includes(line[j]!) && !line.startsWith('//', j)) j++;
      toks.push(line.slice(i, j));
      i = j;
    }
  }
  return { toks, indirect };
}

/** Reads `module`, `require` and `replace` directives from go.mod (single lines and blocks). */
export function parseGoMod(text: string, file = 'go.mod'): GoModInfo {
  const info: GoModInfo = { module: null, requires: [], replaces: [] };
  let block = null as string | null;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    let t: { toks: string[]; indirect: boolean };
    try {
      t = tokens(raw);
    } catch (err) {
      throw provenanceError(
        'LOCKFILE_MALFORMED',
        `${file}: line ${i + 1}: ${(err as Error).message}`,
        `line ${i + 1}`,
        err,
      );
    }
    let toks = t.toks;
    if (toks.length === 0) continue;
    if (block !== null) {
      if (toks[0] === ')') {
        block = null;
        continue;
      }
      toks = [block, ...toks];
    } else if (toks[1] === '(' && toks.length === 2) {
      block = toks[0]!;
      continue;
    }
    const bad = (what: string): never => {
      throw provenanceError(
        'LOCKFILE_MALFORMED',
        `${file}: line ${i + 1}: ${what}`,
        `line ${i + 1}`,
      );
    };
    switch (toks[0]) {
      case 'module':
        if (toks.length !== 2) bad('expected `module <path>`');
        info.module = toks[1]!;
        break;
      case 'require':
        if (toks.length !== 3) bad('expected `require <module> <version>`');
        info.requires.push({ module: toks[1]!, version: toks[2]!, indirect: t.indirect });
        break;
      case 'replace': {
        const arrow = toks.indexOf('=>');
        if (arrow !== 2 && arrow !== 3)
          bad('expected `replace <module> [<version>] => <target> [<version>]`');
        const r: GoModInfo['replaces'][number] = {
          from: toks[1]!,
          to: toks[arrow + 1] ?? bad('missing replacement'),
        };
        if (arrow === 3) r.fromVersion = toks[2]!;
        if (toks.length === arrow + 3) r.toVersion = toks[arrow + 2]!;
        else if (toks.length !== arrow + 2) bad('too many words in replace');
        info.replaces.push(r);
        break;
      }
      default:
        break; // go, toolchain, exclude, retract, godebug: not needed here
    }
  }
  if (block !== null) {
    throw provenanceError('LOCKFILE_MALFORMED', `${file}: unterminated \`${block} (\` block`);
  }
  return info;
}

/** A replacement target that is a directory (Go: starts with `./`, `../` or `/`). */
function isDirTarget(to: string): boolean {
  return (
    to === '.' || to === '..' || to.startsWith('./') || to.startsWith('../') || to.startsWith('/')
  );
}

/**
 * The locked dependencies of a Go module: every go.sum module version (zip and go.mod hashes),
 * plus modules replaced by directories outside the source tree (unpinned, kind `path`).
 * Replacements by directories inside the tree are part of the source. Every module that go.mod
 * requires (and does not replace) must have a go.sum entry.
 */
export function parseGoLock(
  goMod: string,
  goSum: string | null,
  opts: { workdir?: string } = {},
): LockedDependency[] {
  const mod = parseGoMod(goMod);
  const sum = goSum === null ? [] : parseGoSum(goSum);
  const replaced = new Set(mod.replaces.map((r) => r.from));
  const direct = new Set(
    mod.requires.filter((r) => !r.indirect).map((r) => `${r.module}@${r.version}`),
  );
  const byKey = new Map(sum.map((e) => [`${e.module}@${e.version}`, e]));
  const missing = mod.requires.filter(
    (r) => !replaced.has(r.module) && byKey.get(`${r.module}@${r.version}`)?.goMod === undefined,
  );
  if (missing.length > 0) {
    const names = missing.map((r) => `${r.module} ${r.version}`).join(', ');
    throw provenanceError(
      goSum === null ? 'LOCKFILE_MISSING' : 'LOCKFILE_MALFORMED',
      goSum === null
        ? `go.sum is missing but go.mod requires ${names}; run \`go mod tidy\` and commit go.sum`
        : `go.sum has no entry for ${names} required by go.mod; run \`go mod tidy\` and commit go.sum`,
    );
  }
  const out: LockedDependency[] = sum.map((e) => {
    const d: LockedDependency = {
      ecosystem: 'go',
      name: e.module,
      version: e.version,
      purl: purl('go', e.module, e.version),
      digest: e.zip ?? null,
      kind: 'registry',
    };
    if (e.goMod !== undefined) d.goModDigest = e.goMod;
    if (direct.has(`${e.module}@${e.version}`)) d.direct = true;
    return d;
  });
  for (const r of mod.replaces) {
    if (!isDirTarget(r.to) || staysInside(r.to, opts.workdir)) continue;
    const req = mod.requires.find((q) => q.module === r.from);
    const version = r.fromVersion ?? req?.version ?? 'v0.0.0';
    out.push({
      ecosystem: 'go',
      name: r.from,
      version,
      purl: purl('go', r.from, version),
      digest: null,
      kind: 'path',
      source: r.to,
    });
  }
  return out.sort(byPurl);
}
