/**
 * Where two enclave image files differ: the first differing section and, inside a ramdisk, the
 * first differing member (path, both SHA-256), so a failed reproduction names the file that moved
 * rather than just "PCR2 differs".
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { EifSectionInfo } from '../eif/index.js';
import { describeEifFile } from '../eif/node.js';
import { comparePaths, readCpio } from './cpio.js';
import type { CpioEntry } from './cpio.js';
import { ImageError } from './errors.js';

/** Largest ramdisk read back for comparison. */
export const MAX_COMPARED_RAMDISK = 4 * 1024 * 1024 * 1024 - 1;

/** The first difference between a reference EIF and a rebuilt one. */
export interface EifDifference {
  /** `kernel`, `cmdline`, `bootstrap` or `customer` ramdisk, or `sections` (another layout). */
  section: 'kernel' | 'cmdline' | 'bootstrap' | 'customer' | 'sections';
  /** The ramdisk member, when a ramdisk differs. */
  path?: string;
  /** SHA-256 of the member's (or section's) bytes in the reference; `absent` when missing. */
  expected: string;
  actual: string;
  /** What else differs about the member (mode, owner, type), when its bytes are the same. */
  detail?: string;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function readSection(path: string, s: EifSectionInfo): Promise<Uint8Array> {
  if (s.size > MAX_COMPARED_RAMDISK)
    throw new ImageError('CPIO_INVALID', `section ${s.index} of ${path} is too large to compare`);
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(s.size);
    await fh.read(buf, 0, s.size, s.offset + 12);
    return buf;
  } finally {
    await fh.close();
  }
}

function memberDigest(e: CpioEntry | undefined): string {
  return e === undefined ? 'absent' : sha(e.data);
}

/** The first member that differs between two ramdisks, or undefined when they are equal. */
export function compareRamdisks(
  section: 'bootstrap' | 'customer',
  expected: Uint8Array,
  actual: Uint8Array,
): EifDifference | undefined {
  const a = readCpio(expected);
  const b = readCpio(actual);
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    const order = x === undefined ? 1 : y === undefined ? -1 : comparePaths(x.path, y.path);
    if (order < 0) return { section, path: x!.path, expected: memberDigest(x), actual: 'absent' };
    if (order > 0) return { section, path: y!.path, expected: 'absent', actual: memberDigest(y) };
    const dx = memberDigest(x);
    const dy = memberDigest(y);
    const meta = (e: CpioEntry) =>
      `mode ${e.mode.toString(8)} uid ${e.uid} gid ${e.gid} mtime ${e.mtime} rdev ${e.rdevMajor}:${e.rdevMinor}`;
    if (dx !== dy || meta(x!) !== meta(y!))
      return {
        section,
        path: x!.path,
        expected: dx,
        actual: dy,
        ...(dx === dy ? { detail: `${meta(x!)} became ${meta(y!)}` } : {}),
      };
    i++;
    j++;
  }
  return undefined;
}

/** The first difference between the EIFs at `expectedPath` and `actualPath`. */
export async function compareEifFiles(
  expectedPath: string,
  actualPath: string,
): Promise<EifDifference | undefined> {
  const e = await describeEifFile(expectedPath);
  const a = await describeEifFile(actualPath);
  const pick = (d: typeof e) => ({
    kernel: d.sections.filter((s) => s.type === 'kernel'),
    cmdline: d.sections.filter((s) => s.type === 'cmdline'),
    ramdisks: d.sections.filter((s) => s.type === 'ramdisk'),
  });
  const x = pick(e);
  const y = pick(a);
  if (
    x.kernel.length !== 1 ||
    y.kernel.length !== 1 ||
    x.cmdline.length !== 1 ||
    y.cmdline.length !== 1 ||
    x.ramdisks.length !== y.ramdisks.length
  )
    return {
      section: 'sections',
      expected: e.sections.map((s) => s.type).join(','),
      actual: a.sections.map((s) => s.type).join(','),
    };
  for (const k of ['kernel', 'cmdline'] as const) {
    const dx = sha(await readSection(expectedPath, x[k][0]!));
    const dy = sha(await readSection(actualPath, y[k][0]!));
    if (dx !== dy) return { section: k, expected: dx, actual: dy };
  }
  for (let i = 0; i < x.ramdisks.length; i++) {
    const bx = await readSection(expectedPath, x.ramdisks[i]!);
    const by = await readSection(actualPath, y.ramdisks[i]!);
    if (sha(bx) === sha(by)) continue;
    const name = i === 0 ? 'bootstrap' : 'customer';
    const d = compareRamdisks(name, bx, by);
    if (d !== undefined) return d;
    return { section: name, expected: sha(bx), actual: sha(by), detail: 'archive layout' };
  }
  return undefined;
}
