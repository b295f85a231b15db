/**
 * npm's platform rule for optional packages (npm-install-checks `checkPlatform`, applied by
 * @npmcli/arborist to every `optional` node): an optional package whose `os`, `cpu` or `libc`
 * excludes the machine is never fetched nor installed by `npm ci`. Lockfiles of projects that use
 * esbuild, swc, rollup or sharp list one such package per platform (tens of MB each), so the
 * dependency set leaves them out. Written here rather than imported: the rule is ten lines, the
 * library reads the machine itself (`process`, `/usr/bin/ldd`), and lockfile parsing stays pure.
 */

/** A machine as npm sees it: `process.platform`, `process.arch`, and the C library on Linux. */
export interface NpmPlatform {
  os: string;
  cpu: string;
  /** `glibc` or `musl` on Linux; absent elsewhere or when unknown. */
  libc?: string;
}

/** npm-install-checks `checkList`: none of the negated values, one of the others if any. */
function checkList(value: string | undefined, list: readonly string[]): boolean {
  if (list.length === 1 && list[0] === 'any') return true;
  let negated = 0;
  let match = false;
  for (const entry of list) {
    const negate = entry.startsWith('!');
    const test = negate ? entry.slice(1) : entry;
    if (negate) {
      negated++;
      if (value === test) return false;
    } else {
      match = match || value === test;
    }
  }
  return match || negated === list.length;
}

/** A lockfile field as npm reads it (a string or a list of strings); anything else is no rule. */
function asList(v: unknown): readonly string[] | undefined {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  return undefined;
}

/** True when npm would install a package with these `os`/`cpu`/`libc` fields on `p`. */
export function fitsPlatform(
  fields: { os?: unknown; cpu?: unknown; libc?: unknown },
  p: NpmPlatform,
): boolean {
  const os = asList(fields.os);
  const cpu = asList(fields.cpu);
  const libc = asList(fields.libc);
  if (os !== undefined && !checkList(p.os, os)) return false;
  if (cpu !== undefined && !checkList(p.cpu, cpu)) return false;
  if (libc !== undefined && (p.libc === undefined || !checkList(p.libc, libc))) return false;
  return true;
}
