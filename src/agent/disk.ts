/**
 * The data directory's disk budget: new jobs are refused (507) while the directory holds more than
 * its budget or its file system is nearly full.
 */
import { statfs } from 'node:fs/promises';
import { AgentError } from './errors.js';
import { diskUsage } from './fsutil.js';

/** How long a measured size is reused (measuring walks the directory). */
export const USAGE_CACHE_MS = 5_000;

/** Tracks the data directory's size: measured at most every USAGE_CACHE_MS, adjusted in between. */
export class DiskBudget {
  private usage = { at: -Infinity, bytes: 0 };

  constructor(
    private readonly dir: string,
    private readonly limits: { maxDataBytes: number; minFreeBytes: number },
    private readonly now: () => number,
  ) {}

  /** Bytes in the directory as last measured (plus what was added since). */
  get bytes(): number {
    return this.usage.bytes;
  }

  add(bytes: number): void {
    this.usage.bytes += bytes;
  }

  subtract(bytes: number): void {
    this.usage.bytes = Math.max(0, this.usage.bytes - bytes);
  }

  /** Measures again at the next check (after files were removed). */
  invalidate(): void {
    this.usage.at = -Infinity;
  }

  /**
   * Throws AGENT_STORAGE_FULL when the directory is over budget or the disk nearly full, unless
   * `makeRoom` (given the bytes missing) frees enough: then the directory is measured again.
   */
  async check(makeRoom?: (bytes: number) => Promise<number>): Promise<void> {
    let short = await this.shortfall();
    if (short === null) return;
    if (makeRoom !== undefined && (await makeRoom(short.bytes)) > 0) {
      this.invalidate();
      short = await this.shortfall();
      if (short === null) return;
    }
    throw new AgentError('AGENT_STORAGE_FULL', short.message);
  }

  /** What is missing for a new job: bytes over the budget or under the free space, or null. */
  private async shortfall(): Promise<{ bytes: number; message: string } | null> {
    const now = this.now();
    if (now - this.usage.at > USAGE_CACHE_MS)
      this.usage = { at: now, bytes: await diskUsage(this.dir) };
    if (this.usage.bytes > this.limits.maxDataBytes)
      return {
        bytes: this.usage.bytes - this.limits.maxDataBytes,
        message: `the data directory holds ${this.usage.bytes} bytes, over its budget of ${this.limits.maxDataBytes}`,
      };
    const fs = await statfs(this.dir);
    const free = fs.bavail * fs.bsize;
    if (free < this.limits.minFreeBytes)
      return {
        bytes: this.limits.minFreeBytes - free,
        message: `only ${free} bytes free on the data directory's file system`,
      };
    return null;
  }
}
