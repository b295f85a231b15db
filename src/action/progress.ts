/**
 * The agent's events in the step's log: one log group per build phase, the build's own output
 * printed with workflow commands disabled (it is not ours).
 */
import type { AgentEvent } from '../contracts/index.js';
import type { RunDeps } from './deps.js';
import { printable } from '../util/printable.js';

/** Prints agent events: a log group per phase, build output with workflow commands disabled. */
export function eventPrinter(deps: RunDeps): {
  onEvent: (e: AgentEvent) => void;
  close: () => void;
} {
  let open = false;
  const close = (): void => {
    if (open) deps.log.endGroup();
    open = false;
  };
  return {
    close,
    onEvent(e) {
      const d = e.data;
      switch (e.event) {
        case 'queued':
          deps.log.info(
            `queued${typeof d.position === 'number' ? ` (position ${d.position})` : ''}`,
          );
          break;
        case 'started':
          deps.log.info('started');
          break;
        case 'phase': {
          close();
          const phase = typeof d.phase === 'string' ? printable(d.phase, 80) : '?';
          deps.log.startGroup(`build: ${phase}`);
          open = true;
          break;
        }
        case 'log':
          if (typeof d.text === 'string' && d.text !== '')
            deps.log.untrusted(d.text.replace(/\n$/, ''));
          break;
        case 'complete':
          close();
          break;
      }
    },
  };
}
