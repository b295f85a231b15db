/**
 * Contracts: the types both sides of a boundary use (the host and the worker, the catalog and the
 * verifier), kept below all of them so that no side imports the other's internals. Types and
 * constants only; runs anywhere.
 */

/** The toolchain languages an image is made for (build.json `language`, the image catalog). */
export const LANGUAGES = ['rust', 'node', 'go'] as const;
export type Language = (typeof LANGUAGES)[number];

/** Published image identity (see enclave/images.json). */
export interface ImageRef {
  name: string;
  version: string;
  language: Language;
}

/** An image whose measurements are trusted. */
export interface TrustedImage {
  name: string;
  version: string;
  /** Real measurements (hex, 96 chars), or null when the image has not been measured on a Nitro host. */
  pcr0: string | null;
  pcr1: string | null;
  pcr2: string | null;
  /** The measurements the simulated (local) backend attests with for this image. */
  simulated?: { pcr0: string; pcr1: string; pcr2: string };
}

/** How the enclave was isolated; recorded in the provenance (`internalParameters.isolation`). */
export interface IsolationReport {
  backend: 'local' | 'nitro';
  /** `netns` (local: fresh network namespace, loopback only), `enclave` (nitro), or `none` (explicitly allowed). */
  network: 'netns' | 'enclave' | 'none';
  /** `mountns` (private mount namespace with the workspace at a fixed path), `enclave`, or `none`. */
  filesystem: 'mountns' | 'enclave' | 'none';
  /** How memory is bounded: `cgroup2`, `cgroup1`, `rlimit`, `enclave`, or `none`. */
  memory: string;
  /** Free-form details (kernel refusals, limits applied). */
  notes?: string[];
}

/**
 * Which enclaves a backend's crash recovery leaves alone: a set of enclave ids or names, or a test
 * on each enclave it finds (e.g. "does the run that started it still live?").
 */
export type OrphanKeep =
  ReadonlySet<string> | ((enclave: { name: string; id: string }) => boolean | Promise<boolean>);

export { AGENT_EVENT_TYPES } from './agent-api.js';
export type { AgentEvent, AgentEventType } from './agent-api.js';
