/**
 * Signals during `tee-compile build`: SIGINT, SIGTERM and SIGHUP cancel the build; the command
 * still stops the enclave and removes its files before it exits (128 + the signal's number). A
 * second signal meanwhile is only reported; a third exits at once.
 */
import { constants } from 'node:os';
import type { CliIo } from '../io.js';
import { writeLine } from '../io.js';

/** The signals that cancel a build. */
export const CANCEL_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type CancelSignal = (typeof CANCEL_SIGNALS)[number];
/** How long a cancelled command waits for work it no longer needs (a dependency fetch) to end. */
export const CANCEL_EXIT_WAIT_MS = 2000;

/** Cancels the build on the first signal; see the module comment. */
export function cancelOnSignals(io: CliIo): {
  signal: AbortSignal;
  received: () => CancelSignal | undefined;
  dispose: () => void;
} {
  const abort = new AbortController();
  let first: CancelSignal | undefined;
  let count = 0;
  const say = (s: string): void => writeLine(io.stderr, `tee-compile: ${s}`);
  const ignore = (): void => undefined;
  const on = (sig: CancelSignal): void => {
    count++;
    if (count === 1) {
      first = sig;
      // A hung-up terminal fails writes (EIO): that must not end the command before the cleanup.
      io.stdout.on('error', ignore);
      io.stderr.on('error', ignore);
      say(`${sig}: cancelling the build and stopping the enclave`);
      abort.abort();
    } else if (count === 2) {
      say(
        `${sig}: still stopping the enclave; another signal exits at once and may leave it behind`,
      );
    } else {
      say(`${sig}: exiting without waiting (the next build removes what is left)`);
      process.exit(128 + constants.signals[sig]);
    }
  };
  const handlers = CANCEL_SIGNALS.map((sig) => [sig, () => on(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  return {
    signal: abort.signal,
    received: () => first,
    dispose: () => {
      // The error handlers stay: the last lines are written after this.
      for (const [sig, h] of handlers) process.off(sig, h);
    },
  };
}
