/**
 * A seeded mutation fuzzer over genuine bundles: each case applies one to three mutations at the
 * gzip, tar-header, pax, member or stream level (byte flips, header fields set to what other tar
 * writers put there, inserted pax/GNU members, duplicated, dropped or swapped members, appended
 * data and gzip members, truncation). The same seed gives the same cases.
 */
import { BLOCK } from '../../../src/archive/index.js';
import { concatBytes } from '../../../src/util/bytes.js';
import {
  gz,
  joinTar,
  member,
  paxPart,
  patchHeader,
  splitTar,
  tarOf,
  type TarPart,
} from './bundle-hostile.js';

/** xorshift32: small, seeded, reproducible. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  int(n: number): number {
    return this.next() % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

const FIELDS: [number, number][] = [
  [0, 100],
  [100, 8],
  [108, 8],
  [116, 8],
  [124, 12],
  [136, 12],
  [148, 8],
  [156, 1],
  [157, 100],
  [257, 6],
  [263, 2],
  [265, 32],
  [297, 32],
  [329, 8],
  [337, 8],
  [345, 155],
  [500, 12],
];
const VALUES = [
  '',
  '\0',
  ' ',
  '0',
  '7',
  'g',
  'x',
  'L',
  'K',
  'S',
  '1',
  '2',
  '5',
  'ustar',
  'ustar  ',
  '00',
  ' 0',
  'root',
  '0000777',
  '0004755',
  '00000000001',
  '77777777777',
  'artifacts/target/release/hello',
  'artifacts/zz',
  'provenance.json',
  '../x',
  '/abs',
  'A',
  'a\nb',
  '\u00e9',
  'e\u0301',
];
const PAX_KEYS = [
  'path',
  'size',
  'linkpath',
  'mtime',
  'GNU.sparse.name',
  'GNU.sparse.size',
  'uid',
  'comment',
  'hdrcharset',
];

function mutateTar(rng: Rng, tar: Uint8Array): Uint8Array {
  const parts = splitTar(tar);
  // An earlier round may have left nothing to cut into members: append instead.
  if (parts.length === 0) return concatBytes([tar, Uint8Array.of(rng.int(256))]);
  const i = rng.int(parts.length);
  const p = parts[i]!;
  const hdr = p.head.subarray(p.head.length - BLOCK);
  const set = (np: TarPart | TarPart[]): Uint8Array =>
    joinTar(parts.flatMap((q, j) => (j === i ? np : [q])));
  switch (rng.int(9)) {
    case 0: {
      const [off, len] = rng.pick(FIELDS);
      const v = rng.pick(VALUES).slice(0, len);
      const b = hdr.slice();
      b.fill(0, off, off + len);
      return set({
        ...p,
        head: concatBytes([
          p.head.subarray(0, p.head.length - BLOCK),
          patchHeader(b, off, v, rng.int(4) !== 0),
        ]),
      });
    }
    case 1: {
      const b = hdr.slice();
      b[rng.int(BLOCK)] = rng.int(256);
      return set({
        ...p,
        head: concatBytes([
          p.head.subarray(0, p.head.length - BLOCK),
          rng.int(2) ? patchHeader(b, 0, new Uint8Array(0)) : b,
        ]),
      });
    }
    case 2: {
      const key = rng.pick(PAX_KEYS);
      const value = rng.pick(['artifacts/target/release/hello', '0', '512', 'x', p.name]);
      return set({
        ...p,
        head: concatBytes([paxPart(rng.int(3) === 0 ? 'g' : 'x', [[key, value]]), p.head]),
      });
    }
    case 3:
      return set([p, p]);
    case 4:
      return set([]);
    case 5: {
      const j = rng.int(parts.length);
      const out = parts.slice();
      [out[i], out[j]] = [out[j]!, out[i]!];
      return joinTar(out);
    }
    case 6: {
      if (p.data.length === 0) return tar;
      const d = p.data.slice();
      const k = rng.int(d.length);
      d[k] = d[k]! ^ (1 << rng.int(8));
      return set({ ...p, data: d });
    }
    case 7:
      return set([
        p,
        member(
          rng.pick([
            'artifacts/zz',
            'artifacts/Target/release/hello',
            'extra',
            'artifacts/target/release/hello',
          ]),
          'x',
          rng.pick(['0', '5', '2', '1']),
        ),
      ]);
    default:
      return concatBytes([
        tar,
        rng.int(2) ? new Uint8Array(BLOCK * (1 + rng.int(20))) : Uint8Array.of(rng.int(256)),
      ]);
  }
}

function mutateStream(rng: Rng, bytes: Uint8Array): Uint8Array {
  switch (rng.int(4)) {
    case 0: {
      const b = bytes.slice();
      const k = rng.int(b.length);
      b[k] = b[k]! ^ (1 << rng.int(8));
      return b;
    }
    case 1:
      return bytes.subarray(0, rng.int(bytes.length));
    case 2:
      return concatBytes([
        bytes,
        rng.int(2) ? gz(new Uint8Array(BLOCK * 2)) : Uint8Array.of(rng.int(256)),
      ]);
    default: {
      const b = bytes.slice();
      b[rng.int(10)] = rng.int(256);
      return b;
    }
  }
}

/** Case `n` of the fuzzer with `seed` over the genuine bundles `bases`. */
export function fuzzCase(seed: number, n: number, bases: readonly Uint8Array[]): Uint8Array {
  const rng = new Rng((seed * 2654435761 + n * 40503) >>> 0);
  const base = rng.pick(bases);
  if (rng.int(5) === 0) return mutateStream(rng, base);
  let tar = tarOf(base);
  const rounds = 1 + rng.int(3);
  for (let k = 0; k < rounds; k++) {
    try {
      tar = mutateTar(rng, tar);
    } catch {
      // A mangled earlier round that the splitter cannot follow: the case keeps what it has.
    }
  }
  return gz(tar);
}
