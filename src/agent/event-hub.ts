/**
 * The events and live phases of every job: one open log per live job (queued or running), the
 * files of finished ones, and the subscribers that follow them.
 */
import type { AgentEvent, AgentEventType } from './events.js';
import { JobEvents, loadEventFile, readEventFile, readReservation } from './events.js';
import type { Logger } from './log.js';

/** Events and phases of all jobs. */
export class EventHub {
  private readonly phases = new Map<string, string>();
  private readonly live = new Map<string, JobEvents>();
  private following = 0;

  constructor(
    private readonly fileOf: (id: string) => string,
    private readonly log: Logger,
  ) {}

  /** The log of a job; `resume`: it goes on from its file and its reservation (a restart). */
  private async make(id: string, resume: boolean): Promise<JobEvents> {
    const file = this.fileOf(id);
    const ev = new JobEvents(
      file,
      resume ? await loadEventFile(file) : [],
      resume ? await readReservation(file) : 0,
      (err) => this.log.warn('cannot write the event log', { job_id: id, error: err.message }),
    );
    await ev.ready();
    return ev;
  }

  /** Opens the live log of a job; `resume`: it continues the events already in its file. */
  async open(id: string, resume = false): Promise<void> {
    this.live.set(id, await this.make(id, resume));
  }

  /** The job's phase, when one was recorded. */
  phase(id: string): string | undefined {
    return this.phases.get(id);
  }

  /** Records a phase without an event (end states, `queued`, `cancelling`). */
  notePhase(id: string, phase: string): void {
    this.phases.set(id, phase);
  }

  /** Records a phase and sends a `phase` event when it changed. */
  setPhase(id: string, phase: string, detail: Record<string, unknown> = {}): void {
    if (this.phases.get(id) === phase) return;
    this.phases.set(id, phase);
    this.emit(id, 'phase', { phase, ...detail });
  }

  /** Sends an event of a live job. */
  emit(id: string, type: AgentEventType, data: Record<string, unknown>): void {
    this.live.get(id)?.emit(type, data);
  }

  /**
   * Sends `complete` and closes the job's log (flushed and fsynced). A job that is not live (found
   * ended at a restart) gets the event appended to its file.
   */
  async complete(id: string, data: Record<string, unknown>): Promise<void> {
    const ev = this.live.get(id) ?? (await this.make(id, true));
    ev.emit('complete', data);
    await ev.close();
    this.live.delete(id);
  }

  /** Drops what is kept of a removed job. */
  forget(id: string): void {
    this.phases.delete(id);
  }

  /** Open event streams. */
  get subscribers(): number {
    return this.following;
  }

  /**
   * Streams a job's events after `afterId` to `send`, then calls `end` after `complete`. A live
   * job replays its backlog, then follows; an ended one is read from its file. Returns the
   * function that stops the subscription.
   */
  async follow(
    id: string,
    afterId: number,
    send: (e: AgentEvent) => void | Promise<void>,
    end: () => void,
  ): Promise<() => void> {
    this.following++;
    let counted = true;
    const done = (): void => {
      if (counted) this.following--;
      counted = false;
    };
    const ev = this.live.get(id);
    if (ev) {
      const unsubscribe = ev.subscribe(
        afterId,
        (e) => void send(e),
        () => {
          done();
          end();
        },
      );
      return () => {
        unsubscribe();
        done();
      };
    }
    try {
      await readEventFile(this.fileOf(id), afterId, send);
    } finally {
      done();
    }
    end();
    return () => undefined;
  }

  /** Closes every open log (shutdown; queued jobs continue their logs at the next start). */
  async closeAll(): Promise<void> {
    for (const ev of this.live.values()) await ev.close();
  }
}
