/**
 * What a worker knows about itself and its enclave, and the limits of what it unpacks, shared by
 * the phases of a build (build.ts and the receive, run and attest steps beside it).
 */
import type { NsmClient } from '../attestation/index.js';
import type { Language } from '../contracts/index.js';
import type { JailOptions } from './jail.js';

/** Limits of the archives the worker unpacks. */
export const SOURCE_ARCHIVE_LIMITS = {
  maxEntries: 200_000,
  maxEntryBytes: 2 * 1024 ** 3,
  maxTotalBytes: 4 * 1024 ** 3,
} as const;
export const DEPS_ARCHIVE_LIMITS = {
  maxEntries: 500_000,
  maxEntryBytes: 2 * 1024 ** 3,
  maxTotalBytes: 8 * 1024 ** 3,
} as const;

/** The image this worker belongs to, as read from image.json. */
export interface WorkerImage {
  name: string;
  version: string;
  language: Language;
  toolchain: Record<string, string>;
}

/** What the worker learns from the NSM and its surroundings (needed to attest). */
export interface EnclaveFacts {
  nsm: NsmClient;
  /** PCR0/1/2 as read from the NSM (DescribePCR), hex. */
  pcrs: { pcr0: string; pcr1: string; pcr2: string };
  /** DescribeNSM and PCR3/4 as read, recorded in the provenance. */
  nsmInfo: Record<string, unknown>;
  isolation: Record<string, unknown>;
}

/** What the worker knows before any client arrives. */
export interface WorkerContext {
  image: WorkerImage;
  /**
   * The NSM's facts, found once (the same promise on every call): at the worker's start with the
   * device, which must be there before a build is accepted; with the software NSM, once the
   * build command runs (`whileBuilding`), or when the build attests, whichever comes first.
   */
  facts: () => Promise<EnclaveFacts>;
  /**
   * Called once the build command has started (the worker only waits then): the worker's
   * process yields the CPU to the command, and the software NSM is made (X.509 loaded, the
   * simulation root's key imported) and issues its certificate chain, which would otherwise
   * compete with receiving and checking the inputs.
   */
  whileBuilding?: () => void;
  backend: 'local' | 'nitro';
  workspace: string;
  builderVersion: Record<string, string>;
  /** The worker's own environment, from which the toolchain's variables are taken. */
  env: NodeJS.ProcessEnv;
  /** Runs the build command in tee-jail as another user (see jail.ts). */
  jail?: JailOptions;
}
