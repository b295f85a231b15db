/**
 * The differential harness: a bundle the verifier accepts is unpacked by the extractors users run
 * (GNU tar, bsdtar from libarchive, Python's tarfile with `filter='data'`, node-tar), and each must
 * write exactly the attested artifacts with the attested bytes, plus provenance.json (whose SHA-256
 * is the attested user_data), attestation.cbor and build.log as the verifier read them, and
 * nothing else. Real extractors, installed by .ci/run. Python's tarfile takes part where it has
 * extraction filters (PEP 706: Python 3.12, and 3.11.4 on): Debian 12's Python 3.11.2 has none,
 * and its unfiltered extraction of a mutated bundle could write outside the folder.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as nodeTar from 'tar';
import type { BundleVerified } from '../../../src/verify/index.js';
import { toHex } from '../../../src/util/hex.js';

const run = promisify(execFile);

export const EXTRACTORS = ['gnu-tar', 'bsdtar', 'python-tarfile', 'node-tar'] as const;
export type Extractor = (typeof EXTRACTORS)[number];

let extractorsHere: Promise<readonly Extractor[]> | undefined;
/** The extractors of this machine: all four, or three where Python has no extraction filters. */
export function availableExtractors(): Promise<readonly Extractor[]> {
  extractorsHere ??= run('python3', ['-c', 'import tarfile; tarfile.data_filter']).then(
    () => EXTRACTORS,
    () => EXTRACTORS.filter((x) => x !== 'python-tarfile'),
  );
  return extractorsHere;
}

/** What the verifier read besides the artifacts: the bytes each extractor must write. */
export interface Expected {
  verified: BundleVerified;
  attestation: Uint8Array;
  log: Uint8Array;
}

/** One way an extraction differs from what was verified. */
export interface ExtractionDifference {
  extractor: Extractor;
  problem: string;
}

const PY_EXTRACT = `
import sys, tarfile
if not hasattr(tarfile, 'data_filter'):
    sys.exit('python tarfile has no extraction filters (PEP 706): python3 >= 3.11.4 needed')
for bundle, dest in zip(sys.argv[1::2], sys.argv[2::2]):
    try:
        with tarfile.open(bundle) as t:
            t.extractall(dest, filter='data')
    except Exception as e:
        open(dest + '.error', 'w').write(repr(e))
`;

async function walk(root: string, rel = ''): Promise<Map<string, 'file' | 'dir' | 'other'>> {
  const out = new Map<string, 'file' | 'dir' | 'other'>();
  for (const name of await readdir(join(root, rel))) {
    const p = rel === '' ? name : `${rel}/${name}`;
    const st = await lstat(join(root, p));
    if (st.isDirectory()) {
      out.set(p, 'dir');
      for (const [k, v] of await walk(root, p)) out.set(k, v);
    } else out.set(p, st.isFile() ? 'file' : 'other');
  }
  return out;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Compares one extracted tree with what was verified; returns the problems found. */
async function compareTree(dir: string, want: Expected): Promise<string[]> {
  const files = new Map<string, (b: Uint8Array) => string | null>();
  const userData = want.verified.document.userData;
  files.set('provenance.json', (b) =>
    userData !== null && sha256(b) === toHex(userData)
      ? null
      : 'provenance.json is not the attested statement',
  );
  const same = (name: string, ref: Uint8Array) => (b: Uint8Array) =>
    Buffer.compare(Buffer.from(b), Buffer.from(ref)) === 0 ? null : `${name} differs`;
  files.set('attestation.cbor', same('attestation.cbor', want.attestation));
  files.set('build.log', same('build.log', want.log));
  for (const s of want.verified.subjects) {
    files.set(`artifacts/${s.name}`, (b) =>
      sha256(b) === s.sha256 ? null : `artifacts/${s.name} is not the attested bytes`,
    );
  }
  const dirs = new Set<string>();
  for (const f of files.keys()) {
    const parts = f.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const problems: string[] = [];
  const tree = await walk(dir);
  for (const [p, kind] of tree) {
    if (kind === 'dir' && dirs.has(p)) continue;
    const check = files.get(p);
    if (kind !== 'file' || check === undefined) {
      problems.push(`wrote ${kind} ${JSON.stringify(p)}, which is not part of what was verified`);
      continue;
    }
    const problem = check(new Uint8Array(await readFile(join(dir, p))));
    if (problem !== null) problems.push(problem);
  }
  for (const f of files.keys()) if (tree.get(f) !== 'file') problems.push(`did not write ${f}`);
  return problems;
}

async function gnuTar(bundle: string, dest: string): Promise<void> {
  await run('tar', ['-xzf', bundle, '-C', dest, '--no-same-owner', '--no-same-permissions']);
}

async function bsdtar(bundle: string, dest: string): Promise<void> {
  await run('bsdtar', ['-xzf', bundle, '-C', dest]);
}

async function nodeTarExtract(bundle: string, dest: string): Promise<void> {
  await nodeTar.x({ file: bundle, cwd: dest, strict: true });
}

/**
 * Extracts each bundle with the extractors of this machine (`availableExtractors`) and returns, per
 * bundle, the differences from what was verified (an extractor that fails on an accepted bundle
 * is a difference too). Python runs once for all bundles.
 */
export async function extractionDifferences(
  bundles: { bytes: Uint8Array; expected: Expected }[],
): Promise<ExtractionDifference[][]> {
  const extractors = await availableExtractors();
  const withPython = extractors.includes('python-tarfile');
  const root = await mkdtemp(join(tmpdir(), 'bundle-diff-'));
  try {
    const dest = (i: number, x: Extractor): string => join(root, `${i}`, x);
    const files: string[] = [];
    for (const [i, b] of bundles.entries()) {
      await mkdir(join(root, `${i}`));
      const f = join(root, `${i}`, 'bundle.tar.gz');
      await writeFile(f, b.bytes);
      files.push(f);
      for (const x of extractors) await mkdir(dest(i, x));
    }
    const failed = new Map<string, string>();
    const py = files.flatMap((f, i) => [f, dest(i, 'python-tarfile')]);
    if (withPython && py.length > 0) await run('python3', ['-c', PY_EXTRACT, ...py]);
    for (const [i, f] of files.entries()) {
      const attempts: [Extractor, () => Promise<void>][] = [
        ['gnu-tar', () => gnuTar(f, dest(i, 'gnu-tar'))],
        ['bsdtar', () => bsdtar(f, dest(i, 'bsdtar'))],
        ['node-tar', () => nodeTarExtract(f, dest(i, 'node-tar'))],
      ];
      for (const [x, extract] of attempts) {
        await extract().catch((e: unknown) => failed.set(`${i}/${x}`, String(e)));
      }
      const pyErr = withPython
        ? await readFile(`${dest(i, 'python-tarfile')}.error`, 'utf8').catch(() => null)
        : null;
      if (pyErr !== null) failed.set(`${i}/python-tarfile`, pyErr);
    }
    const out: ExtractionDifference[][] = [];
    for (const [i, b] of bundles.entries()) {
      const diffs: ExtractionDifference[] = [];
      for (const x of extractors) {
        const err = failed.get(`${i}/${x}`);
        if (err !== undefined) {
          diffs.push({ extractor: x, problem: `failed on an accepted bundle: ${err}` });
          continue;
        }
        for (const problem of await compareTree(dest(i, x), b.expected))
          diffs.push({ extractor: x, problem });
      }
      out.push(diffs);
    }
    return out;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
