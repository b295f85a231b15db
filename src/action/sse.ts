/**
 * A Server-Sent Events reader (https://html.spec.whatwg.org/multipage/server-sent-events.html,
 * "Interpreting an event stream"): `id:`, `event:`, `data:` (joined with newlines), `retry:`,
 * comments, and the three line endings. The agent is not trusted to be well behaved: lines are
 * bounded.
 */
import { ActionError } from './errors.js';

/** Longest line accepted (the agent cuts log events at 16 KiB; JSON escaping can double that). */
export const MAX_SSE_LINE_BYTES = 256 * 1024;

/** One dispatched event. */
export interface SseEvent {
  /** The last event id seen so far (the spec's "last event ID buffer"), or null. */
  id: string | null;
  event: string;
  data: string;
}

/** Yields the events of a stream; `onRetry` receives `retry:` values (ms). */
export async function* readSse(
  body: AsyncIterable<Uint8Array>,
  onRetry: (ms: number) => void = () => undefined,
): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  let lastId: string | null = null;
  let event = '';
  let data: string[] = [];
  let sawCr = false;

  function* line(text: string): Generator<SseEvent> {
    if (text === '') {
      if (data.length > 0)
        yield { id: lastId, event: event === '' ? 'message' : event, data: data.join('\n') };
      data = [];
      event = '';
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') {
      if (!value.includes('\0')) lastId = value;
    } else if (field === 'retry' && /^[0-9]+$/.test(value)) onRetry(Number(value));
  }

  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let i = 0; i < buffer.length; i++) {
      const c = buffer.charCodeAt(i);
      if (c === 10 && sawCr) {
        // The LF of a CRLF pair: the line already ended at the CR.
        sawCr = false;
        start = i + 1;
        continue;
      }
      sawCr = false;
      if (c === 10 || c === 13) {
        yield* line(buffer.slice(start, i));
        sawCr = c === 13;
        start = i + 1;
      }
    }
    buffer = buffer.slice(start);
    if (buffer.length > MAX_SSE_LINE_BYTES)
      throw new ActionError(
        'AGENT_PROTOCOL',
        `the agent's event stream has a line longer than ${MAX_SSE_LINE_BYTES} bytes`,
      );
  }
  // At the end of the stream an incomplete event is discarded, as the spec says.
}
