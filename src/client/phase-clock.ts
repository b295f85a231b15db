/**
 * Wall time of each phase of a build as the client sees it, from its progress events: preparing
 * (source archive, dependency set), starting (the enclave), transfer (sending the inputs and
 * unpacking them), verifying-source, verifying-dependencies, building, hashing (collecting the
 * outputs), attesting, sending (the bundle back) and finishing. The worker records its own share
 * in the provenance (`internalParameters.timings`); this adds what only the client sees.
 */
import type { BuildEvent } from './run-build.js';

/** The client's names of the phases, in order. */
export const CLIENT_PHASES = [
  'preparing',
  'starting',
  'transfer',
  'verifying-source',
  'verifying-dependencies',
  'building',
  'hashing',
  'attesting',
  'sending',
  'finishing',
] as const;
export type ClientPhase = (typeof CLIENT_PHASES)[number];

const OF_WORKER_PHASE: Record<string, ClientPhase> = {
  receiving: 'transfer',
  'verifying-source': 'verifying-source',
  'verifying-dependencies': 'verifying-dependencies',
  building: 'building',
  'collecting-outputs': 'hashing',
  attesting: 'attesting',
  sending: 'sending',
};

/** Accumulates the time of each phase; `now` in milliseconds. */
export class PhaseClock {
  private readonly spent = new Map<ClientPhase, number>();
  private current: ClientPhase = 'preparing';
  private since: number;
  private readonly began: number;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.since = now();
    this.began = this.since;
  }

  /** The phase an event starts, if it starts one. */
  static phaseOf(e: BuildEvent): ClientPhase | undefined {
    if (e.type === 'prepared') return 'starting';
    if (e.type === 'enclave' && e.state === 'running') return 'transfer';
    if (e.type === 'phase') return OF_WORKER_PHASE[e.phase];
    if (e.type === 'result') return 'finishing';
    return undefined;
  }

  /** Takes an event; returns the phase it ended and that phase's milliseconds, if it ended one. */
  event(e: BuildEvent): { ended: ClientPhase; ms: number } | undefined {
    const next = PhaseClock.phaseOf(e);
    if (next === undefined || next === this.current) return undefined;
    // The worker receives the dependency set after checking the source: transfer again.
    return this.switchTo(next);
  }

  private switchTo(next: ClientPhase): { ended: ClientPhase; ms: number } {
    const t = this.now();
    const ended = this.current;
    const ms = t - this.since;
    this.spent.set(ended, (this.spent.get(ended) ?? 0) + ms);
    this.current = next;
    this.since = t;
    return { ended, ms };
  }

  /** Ends the last phase; milliseconds by phase (those that took place) and the total. */
  finish(): { phases: Partial<Record<ClientPhase, number>>; totalMs: number } {
    this.switchTo(this.current);
    const phases: Partial<Record<ClientPhase, number>> = {};
    for (const p of CLIENT_PHASES) {
      const v = this.spent.get(p);
      if (v !== undefined) phases[p] = Math.round(v);
    }
    return { phases, totalMs: Math.round(this.now() - this.began) };
  }
}

/** `preparing 1.20 s, starting 0.05 s, …` */
export function formatTimings(t: {
  phases: Partial<Record<string, number>>;
  totalMs: number;
}): string {
  const parts = Object.entries(t.phases).map(([k, v]) => `${k} ${((v ?? 0) / 1000).toFixed(2)} s`);
  return `${parts.join(', ')}; total ${(t.totalMs / 1000).toFixed(2)} s`;
}
