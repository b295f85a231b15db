/**
 * The house rules of docs/architecture.md, read off the import graph of src/: modules form layers,
 * each imports only modules of lower layers (so there is no cycle between modules), and from
 * outside a module is entered only through its faces (`index.ts`, and `node.ts` for the Node-only
 * half of a runtime-neutral module).
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** Layers, bottom first. A module may import modules of lower layers only. */
const LAYERS: readonly (readonly string[])[] = [
  ['errors', 'util', 'contracts'],
  ['cbor'],
  ['cose'],
  ['attestation', 'archive'],
  ['eif', 'provenance'],
  ['bundle', 'dsse', 'signature', 'oidc'],
  ['catalog', 'kms'],
  ['verify', 'protocol'],
  ['worker', 'enclave'],
  ['client', 'image', 'ec2'],
  ['agent'],
  ['action'],
  ['cli'],
  ['index', 'node'],
];
/** Modules whose every file is a face: a bag of small primitives. */
const OPEN_MODULES = new Set(['util']);
const FACES = new Set(['index.ts', 'node.ts']);

const IMPORT_RE =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"](\.[^'"]+)['"]/g;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** `attestation` for src/attestation/x.ts; `node` for src/node.ts. */
function moduleOf(file: string): string {
  const parts = relative(SRC, file).split('/');
  return parts.length === 1 ? parts[0]!.replace(/\.ts$/, '') : parts[0]!;
}

interface Edge {
  from: string;
  to: string;
}

function edges(): Edge[] {
  return sources(SRC).flatMap((from) =>
    [...readFileSync(from, 'utf8').matchAll(IMPORT_RE)].map((m) => ({
      from,
      to: resolve(dirname(from), (m[1] ?? m[2] ?? m[3]!).replace(/\.js$/, '.ts')),
    })),
  );
}

const layerOf = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i] as const)));
const rel = (f: string) => relative(SRC, f);

describe('the import graph of src/', () => {
  const all = edges();

  it('when listing the modules, each has a layer', () => {
    const modules = new Set(sources(SRC).map(moduleOf));
    expect([...modules].filter((m) => !layerOf.has(m))).toEqual([]);
  });

  it('when a module imports another, the other is in a lower layer', () => {
    const upward = all
      .filter((e) => moduleOf(e.from) !== moduleOf(e.to))
      .filter((e) => layerOf.get(moduleOf(e.to))! >= layerOf.get(moduleOf(e.from))!)
      .map((e) => `${rel(e.from)} -> ${rel(e.to)}`);
    expect(upward).toEqual([]);
  });

  it('when a file imports another module, it goes through that module face', () => {
    const internal = all
      .filter((e) => moduleOf(e.from) !== moduleOf(e.to))
      .filter((e) => !OPEN_MODULES.has(moduleOf(e.to)))
      .filter((e) => relative(SRC, e.to).includes('/'))
      .filter(
        (e) =>
          relative(dirname(e.to), e.to) !== '' &&
          !FACES.has(relative(join(SRC, moduleOf(e.to)), e.to)),
      )
      .map((e) => `${rel(e.from)} -> ${rel(e.to)}`);
    expect(internal).toEqual([]);
  });

  it('when following the files of one module, there is no import cycle', () => {
    const next = new Map<string, string[]>();
    for (const e of all) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...path.slice(path.indexOf(f)), f].map(rel).join(' -> '));
        return;
      }
      state.set(f, 'open');
      for (const t of next.get(f) ?? []) visit(t, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of next.keys()) visit(f, []);
    expect(cycles).toEqual([]);
  });
});
