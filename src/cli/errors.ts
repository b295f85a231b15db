import type { AttestationErrorCode } from '../attestation/index.js';
import type { ArchiveErrorCode } from '../archive/index.js';
import type { BundleErrorCode } from '../bundle/index.js';
import type { ImageCatalogErrorCode } from '../catalog/index.js';
import type { EnclaveErrorCode } from '../enclave/index.js';
import type { KmsErrorCode } from '../kms/index.js';
import type { ProtocolErrorCode, WorkerErrorCode } from '../protocol/index.js';
import type { ProvenanceErrorCode } from '../provenance/index.js';
import type { VerifyErrorCode } from '../verify/index.js';

/**
 * The CLI's own codes for an exit-2 error. A command may also end with a library's code (e.g.
 * `POLICY_INVALID` from the verifier). Codes are API: add, never rename.
 */
export const CLI_ERROR_CODES = [
  'USAGE', // a flag, an argument or a combination of them is not valid
  'IO_ERROR', // an input file could not be read
] as const;

export type CliErrorCode = (typeof CLI_ERROR_CODES)[number];

/** What an exit-2 error may carry: the CLI's own code, or that of the library error it reports. */
export type CommandErrorCode =
  | CliErrorCode
  | AttestationErrorCode
  | ArchiveErrorCode
  | BundleErrorCode
  | ImageCatalogErrorCode
  | EnclaveErrorCode
  | KmsErrorCode
  | ProtocolErrorCode
  | WorkerErrorCode
  | ProvenanceErrorCode
  | VerifyErrorCode;

/**
 * An error that ends a command with exit 2 (the command could not do its job): printed as text on
 * stderr, and with `--json` also as `{"ok":false,"code","message"}` on stdout.
 */
export class CommandError extends Error {
  override name = 'CommandError';
  readonly code: CommandErrorCode;
  readonly path: string | undefined;

  constructor(code: CommandErrorCode, message: string, path?: string) {
    super(message);
    this.code = code;
    this.path = path;
  }
}

/** A usage mistake: printed with the command's usage line, exit code 2. */
export class UsageError extends CommandError {
  override name = 'UsageError';

  constructor(message: string) {
    super('USAGE', message);
  }
}
