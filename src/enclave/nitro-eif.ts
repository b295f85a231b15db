/**
 * Which `.eif` an enclave starts from, and the checks before it does: the file for the catalog
 * entry in the images directory, its SHA-256 equal to the catalog's (when it has one), and its
 * PCR0/1/2, measured here with the project's own EIF code, equal to the catalog's. A host whose
 * file was swapped would otherwise attest with the wrong image; the verifier would refuse the
 * bundle, but only after the build ran.
 *
 * Results are kept per file identity (device, inode, size, modification time), so a large EIF is
 * read once, not once per build.
 */
import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { isEifError } from '../eif/index.js';
import type { EifMeasurements } from '../eif/index.js';
import { describeEifFile } from '../eif/node.js';
import type { ImageEntry, PcrSet } from '../catalog/index.js';
import { NitroError } from './nitro-errors.js';
import { sha256File } from '../util/node.js';

/** A checked EIF. */
export interface CheckedEif {
  path: string;
  size: number;
  sha256: string;
  measurements: EifMeasurements;
}

/** The file names tried for `entry`: `<name>-<version>.eif`, then the catalog URL's file name. */
export function eifFileNames(entry: Pick<ImageEntry, 'name' | 'version' | 'eif'>): string[] {
  const names = [`${entry.name}-${entry.version}.eif`];
  if (entry.eif !== null) {
    const fromUrl = basename(new URL(entry.eif.url).pathname);
    if (fromUrl !== '' && !names.includes(fromUrl)) names.push(fromUrl);
  }
  return names;
}

/** Finds and checks EIFs (see the module comment). */
export class EifChecker {
  private readonly cache = new Map<string, Promise<CheckedEif>>();

  constructor(private readonly imagesDir: string) {}

  /**
   * The checked EIF of `entry`, whose PCRs must be `expected` (the catalog's real PCRs, or its
   * simulated ones when the backend simulates).
   */
  async check(
    entry: Pick<ImageEntry, 'name' | 'version' | 'eif'>,
    expected: PcrSet,
    which: 'measured' | 'simulated',
  ): Promise<CheckedEif> {
    const image = `${entry.name}@${entry.version}`;
    let path: string | undefined;
    let st: Stats | undefined;
    const tried = eifFileNames(entry);
    for (const n of tried) {
      const p = join(this.imagesDir, n);
      const s = await stat(p).catch(() => undefined);
      if (s?.isFile()) {
        path = p;
        st = s;
        break;
      }
    }
    if (path === undefined || st === undefined)
      throw new NitroError(
        'ENCLAVE_START_FAILED',
        'EIF_MISSING',
        `no enclave image file for ${image} in ${this.imagesDir} (looked for ${tried.join(', ')}); download it from the catalog's URL and check its SHA-256`,
        { path: 'image' },
      );
    const key = `${path}\0${st.dev}\0${st.ino}\0${st.size}\0${st.mtimeMs}`;
    let checked = this.cache.get(key);
    if (checked === undefined) {
      checked = this.measure(path, st.size);
      this.cache.set(key, checked);
      checked.catch(() => this.cache.delete(key));
    }
    const eif = await checked;
    if (entry.eif !== null && entry.eif.sha256 !== eif.sha256)
      throw new NitroError(
        'ENCLAVE_START_FAILED',
        'EIF_DIGEST_MISMATCH',
        `${path} is not the published ${image}: its SHA-256 is ${eif.sha256}, the catalog says ${entry.eif.sha256}`,
        { path: 'image' },
      );
    const m = eif.measurements;
    for (const k of ['pcr0', 'pcr1', 'pcr2'] as const)
      if (m[k] !== expected[k])
        throw new NitroError(
          'ENCLAVE_START_FAILED',
          'EIF_MEASUREMENT_MISMATCH',
          `${path} does not measure as ${image}: its ${k.toUpperCase()} is ${m[k]}, the catalog's ${which === 'simulated' ? 'simulated ' : ''}${k.toUpperCase()} is ${expected[k]}`,
          { path: 'image' },
        );
    return eif;
  }

  private async measure(path: string, size: number): Promise<CheckedEif> {
    try {
      const [sha256, d] = await Promise.all([sha256File(path), describeEifFile(path)]);
      return { path, size, sha256, measurements: d.measurements };
    } catch (e) {
      throw new NitroError(
        'ENCLAVE_START_FAILED',
        'EIF_UNREADABLE',
        `cannot use ${path}: ${isEifError(e) ? `${e.code}: ${e.message}` : (e as Error).message}`,
        { cause: e, path: 'image' },
      );
    }
  }
}
