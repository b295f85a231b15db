/**
 * Milliseconds spent in each phase of a build in the worker, recorded in the provenance
 * (`internalParameters.timings`): where the time of an attested build goes, beside the build
 * command itself.
 */
export class PhaseTimer {
  private readonly spent = new Map<string, number>();
  private current: string;
  private since: number;

  constructor(
    first: string,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.current = first;
    this.since = now();
  }

  /** Ends the current phase and starts `phase`. */
  next(phase: string): void {
    const t = this.now();
    this.spent.set(this.current, (this.spent.get(this.current) ?? 0) + (t - this.since));
    this.current = phase;
    this.since = t;
  }

  /** Ends the current phase; whole milliseconds by phase name, in the order they began. */
  done(): Record<string, number> {
    this.next(this.current);
    const out: Record<string, number> = {};
    for (const [k, v] of this.spent) out[k] = Math.round(v);
    return out;
  }
}
