/**
 * Shapes of the source-origin part of the policy and of the verified result: signed commits and
 * tags (trust named by the consumer) and the workflow's OIDC token.
 */
import type { AllowedSigner } from '../signature/index.js';

/** Which object must carry a trusted signature. */
export type RequireSigned = 'commit' | 'tag' | 'none';

/** What the policy asks of the source's origin (`source` in the policy file, and flags). */
export interface OriginPolicy {
  /** `--tag`: the bundle must be a build of this annotated tag. */
  tag?: string;
  /** Default `none`, or `commit` when signers are named. */
  requireSigned?: RequireSigned;
  /** Trusted signers: SSH keys (allowed signers lines) and armored OpenPGP public keys. */
  signers?: { ssh: AllowedSigner[]; pgp: string[] };
  /** A verified workflow token must be present. */
  requireWorkflow?: boolean;
  /** The token's `workflow_ref` must match one of these (`*` matches any run of characters). */
  workflowRefs?: string[];
}

/** One object's signature as verified against the consumer's trust. */
export interface SignatureFacts {
  status: 'trusted' | 'untrusted' | 'invalid';
  format: string;
  /** e.g. `ssh ed25519 SHA256:…`, `openpgp <fingerprint>`. */
  key: string;
  /** The principal (SSH) or user id (OpenPGP) the trust names, when trusted. */
  signer?: string;
  reason?: string;
}

/** The origin of a verified bundle. */
export interface OriginFacts {
  commit: { id: string; signature: SignatureFacts | null } | null;
  tag: { name: string; id: string; signature: SignatureFacts | null } | null;
  /** Claims of a workflow token whose signature and binding verified. */
  workflow: {
    issuer: string;
    kid: string;
    repository: string | null;
    repository_id: string | null;
    ref: string | null;
    workflow_ref: string | null;
    run_id: string | null;
    run_attempt: string | null;
    runner_environment: string | null;
    event_name: string | null;
    /** iat, ISO 8601. */
    issuedAt: string;
  } | null;
  /** `verified` when the repository comes from a verified workflow token; `label` otherwise. */
  repository: { url: string | null; basis: 'workflow-token' | 'label' };
}
