/**
 * enclave/images.json is append-only: every released entry (one with measured PCRs) in any
 * committed version of the file is still in the working file, unchanged but for a `retired` date.
 * Retired entries leave the default trust set; a policy may still name them.
 */
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import {
  builtImageMismatches,
  catalogHistoryViolations,
  parseImageCatalog,
  trustedImages,
} from '../../src/catalog/index.js';
import type { ImageCatalog, ImageEntry } from '../../src/catalog/index.js';
import { PACKAGE_ROOT, loadImageCatalog } from '../../src/catalog/node.js';

const hex = (c: string) => c.repeat(96);

function released(name: string, version: string): ImageEntry {
  return {
    name,
    version,
    language: 'node',
    toolchain: { node: '20' },
    recipe: { [`enclave/images/${name}/recipe.json`]: 'a'.repeat(64) },
    pcrs: { pcr0: hex('1'), pcr1: hex('2'), pcr2: hex('3') },
    eif: { sha256: 'b'.repeat(64), size: 10, url: `https://images.invalid/${name}-${version}.eif` },
    simulated: { pcr0: hex('4'), pcr1: hex('5'), pcr2: hex('6') },
  };
}

const catalog = (...images: ImageEntry[]): ImageCatalog =>
  parseImageCatalog({ schemaVersion: 1, images });

/** Every committed version of enclave/images.json reachable from HEAD (all of them in a full clone). */
function committedCatalogs(): { commit: string; catalog: ImageCatalog }[] {
  const git = (args: string[]) =>
    execFileSync('git', args, { cwd: PACKAGE_ROOT, encoding: 'utf8', maxBuffer: 1 << 26 });
  const commits = git(['log', '--format=%H', '--', 'enclave/images.json'])
    .split('\n')
    .filter((c) => c !== '');
  return commits.map((commit) => ({
    commit,
    catalog: parseImageCatalog(JSON.parse(git(['show', `${commit}:enclave/images.json`]))),
  }));
}

describe('enclave/images.json history', () => {
  it('when compared with every committed version, no released entry was rewritten or dropped', async () => {
    const now = await loadImageCatalog();
    const history = committedCatalogs();
    expect(history.length).toBeGreaterThan(0);
    for (const { commit, catalog: old } of history)
      expect({ commit, violations: catalogHistoryViolations(old, now) }).toEqual({
        commit,
        violations: [],
      });
  });

  it('when a released entry is rewritten, dropped or its retirement changed, the change is refused', () => {
    const before = catalog(released('node', '1.0.0'), released('node', '1.1.0'));
    const rewritten = structuredClone(before);
    rewritten.images[0]!.pcrs!.pcr2 = hex('9');
    expect(catalogHistoryViolations(before, rewritten)).toEqual([
      'node@1.0.0 was released and its entry changed (add a new version instead)',
    ]);
    expect(catalogHistoryViolations(before, catalog(released('node', '1.1.0')))).toEqual([
      'node@1.0.0 was released and is gone (retire it instead of removing it)',
    ]);
    const retired = structuredClone(before);
    retired.images[0]!.retired = '2027-01-31';
    expect(catalogHistoryViolations(before, retired)).toEqual([]);
    const moved = structuredClone(retired);
    moved.images[0]!.retired = '2027-02-01';
    expect(catalogHistoryViolations(retired, moved)).toEqual([
      'node@1.0.0: its retirement date 2027-01-31 changed',
    ]);
    const appended = catalog(...before.images, released('node', '1.2.0'));
    expect(catalogHistoryViolations(before, appended)).toEqual([]);
  });

  it('when an entry is retired, it leaves the default trust set', () => {
    const c = catalog(
      { ...released('node', '1.0.0'), retired: '2027-01-31' },
      released('node', '1.1.0'),
    );
    expect(trustedImages(c).map((i) => i.version)).toEqual(['1.1.0']);
  });

  it('when a retirement date is malformed, the catalog is refused', () => {
    expect(() => catalog({ ...released('node', '1.0.0'), retired: 'soon' })).toThrowWithCode(
      'CATALOG_INVALID',
    );
  });
});

describe('builtImageMismatches (the images workflow check)', () => {
  it('when a built EIF differs from its released entry, each difference is named; an unmeasured entry takes any', () => {
    const e = released('node', '1.0.0');
    const same = { pcr0: hex('1'), pcr1: hex('2'), pcr2: hex('3'), sha256: 'b'.repeat(64) };
    expect(builtImageMismatches(e, same)).toEqual([]);
    expect(builtImageMismatches(e, { ...same, pcr2: hex('7'), sha256: 'c'.repeat(64) })).toEqual([
      `node@1.0.0: PCR2 is ${hex('7')}, images.json has ${hex('3')}`,
      `node@1.0.0: EIF SHA-256 is ${'c'.repeat(64)}, images.json has ${'b'.repeat(64)}`,
    ]);
    expect(
      builtImageMismatches({ ...e, pcrs: null, eif: null }, { ...same, pcr0: hex('8') }),
    ).toEqual([]);
  });
});
