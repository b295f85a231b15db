/**
 * The agent's HTTP API as both sides see it: the events of a job's stream (`GET
 * /build/{id}/events`, Server-Sent Events). The agent writes them; the action follows them.
 */

/** Event types of a job's stream, in the order a job emits them. */
export const AGENT_EVENT_TYPES = ['queued', 'started', 'phase', 'log', 'complete'] as const;
export type AgentEventType = (typeof AGENT_EVENT_TYPES)[number];

/** One event of a job's stream. */
export interface AgentEvent {
  /** Position in the job's log, from 1; the SSE `id:` and what `Last-Event-ID` resumes after. */
  id: number;
  event: AgentEventType;
  data: Record<string, unknown>;
}
