/**
 * What `run` needs from the outside world, passed in rather than imported: GitHub, the artifact
 * service, the log, the clock, cancellation and the trust material. `index.ts` builds the real
 * ones; tests build the same over stand-ins.
 */
import type { TrustedImage, VerifyErrorCode } from '../verify/index.js';
import type { ActionErrorCode } from './errors.js';
import type { ArtifactStore } from './artifacts.js';
import type { GitHubApi } from './github.js';
import type { RsaJwk } from '../oidc/index.js';

/** Asks the runner's token service for an OIDC token with this audience. */
export type IdTokenSource = (audience: string) => Promise<string>;

/** The step's log (the runner's workflow commands behind it). */
export interface ActionLog {
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
  debug(message: string): void;
  startGroup(name: string): void;
  endGroup(): void;
  /** Prints text from outside (the build's log) with workflow commands in it disabled. */
  untrusted(text: string): void;
}

/** Everything `run` uses besides its inputs. */
export interface RunDeps {
  github: GitHubApi;
  artifacts: ArtifactStore;
  log: ActionLog;
  /** The verifier's clock (ms since the epoch). */
  now(): number;
  /** Aborted when the step is cancelled. */
  signal: AbortSignal;
  /** Trusted images when the policy lists none: those published with this version. */
  defaultImages: readonly TrustedImage[];
  /** Environment of git and the package tools. */
  env: NodeJS.ProcessEnv;
  /** GitHub's OIDC token service (null or absent: the job has no `id-token: write`). */
  idToken?: IdTokenSource | null;
  /** OIDC signing keys trusted beyond the pinned set (the action fetches GitHub's current JWKS). */
  oidcKeys?: () => Promise<RsaJwk[]>;
}

/** Why the step failed: the action's own code, or the verifier's refusal of the bundles. */
export type ActionFailureCode = ActionErrorCode | VerifyErrorCode;

/** What `run` hands back: outputs to set, the job summary, and whether the step failed. */
export type RunResult = {
  outputs: Record<string, string>;
  /** One line for the check run's title. */
  title: string;
  /** The job summary (Markdown). */
  summary: string;
} & (
  | { ok: true }
  | {
      ok: false;
      /** The stable code of the failure (docs/errors.md); also the `code` output. */
      code: ActionFailureCode;
      /** Why the step failed, for people (the error's message, without its code). */
      failure: string;
      /** The input or field to fix, when the failure names one. */
      path?: string;
    }
);
