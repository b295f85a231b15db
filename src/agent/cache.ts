/**
 * The agent's dependency cache: the dependency sets it fetched for jobs that sent none, kept by
 * lockfile under `<dataDir>/cache/depsets/` (written by the client pipeline, src/client/inputs.ts)
 * and bounded by `retention.maxCacheBytes`.
 *
 * Entries are evicted least recently used first (a build that uses an entry sets its mtime). An
 * entry in use is never evicted: a build holds its set through a hard link of its own, so an entry
 * with more than one link is skipped, and a hold taken just as an entry is evicted still reads the
 * whole file. A set being fetched is in a directory of its own and enters the cache by a rename,
 * so eviction never sees half of one.
 */
import { lstat, readdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DEPSET_CACHE_DIR,
  DEPSET_FETCH_PREFIX,
  DEPSET_HOLD_PREFIX,
  isDepsetEntry,
} from '../client/index.js';

/** The agent's cache directory (what the pipeline executor is given). */
export function agentCacheDir(dataDir: string): string {
  return join(dataDir, 'cache');
}

/** One cached dependency set. */
export interface CacheEntry {
  name: string;
  bytes: number;
  /** Last use (mtime), ms. */
  usedAt: number;
  /** Held by a running build. */
  inUse: boolean;
}

/** What an eviction removed. */
export interface Eviction {
  evicted: CacheEntry[];
  bytes: number;
}

/** The dependency cache of one agent. */
export class DependencyCache {
  /** Where the entries are. */
  readonly dir: string;
  /** Evictions run one at a time. */
  private last: Promise<unknown> = Promise.resolve();

  constructor(cacheDir: string) {
    this.dir = join(cacheDir, DEPSET_CACHE_DIR);
  }

  /** The entries, least recently used first. */
  async entries(): Promise<CacheEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: CacheEntry[] = [];
    for (const name of names) {
      if (!isDepsetEntry(name)) continue;
      const st = await lstat(join(this.dir, name)).catch(() => undefined);
      if (!st?.isFile()) continue;
      out.push({ name, bytes: st.size, usedAt: st.mtimeMs, inUse: st.nlink > 1 });
    }
    return out.sort((a, b) => a.usedAt - b.usedAt || a.name.localeCompare(b.name));
  }

  /**
   * Removes the holds and half-fetched sets a previous run left (a crash during a build). Only
   * while no build runs: at start.
   */
  async removeLeftovers(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return 0;
    }
    let removed = 0;
    for (const name of names) {
      if (!name.startsWith(DEPSET_HOLD_PREFIX) && !name.startsWith(DEPSET_FETCH_PREFIX)) continue;
      await rm(join(this.dir, name), { recursive: true, force: true });
      removed++;
    }
    return removed;
  }

  /**
   * Evicts unused entries, least recently used first, until the cache holds at most `maxBytes`
   * and at least `free` bytes have been freed (when given). Entries in use are skipped, as are
   * entries used since they were listed.
   */
  evict(o: { maxBytes: number; free?: number }): Promise<Eviction> {
    const run = this.last.then(() => this.evictNow(o.maxBytes, o.free ?? 0));
    this.last = run.catch(() => undefined);
    return run;
  }

  private async evictNow(maxBytes: number, free: number): Promise<Eviction> {
    const entries = await this.entries();
    let total = entries.reduce((n, e) => n + e.bytes, 0);
    const out: Eviction = { evicted: [], bytes: 0 };
    for (const e of entries) {
      if (total <= maxBytes && out.bytes >= free) break;
      if (e.inUse) continue;
      const file = join(this.dir, e.name);
      // Looked at again just before: a build may have taken or used it since the listing.
      const st = await lstat(file).catch(() => undefined);
      if (st === undefined) {
        total -= e.bytes;
        continue;
      }
      if (st.nlink > 1 || st.mtimeMs !== e.usedAt) continue;
      try {
        await unlink(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      total -= e.bytes;
      out.bytes += e.bytes;
      out.evicted.push(e);
    }
    return out;
  }
}
