/**
 * Errors of the `nitro` backend. Every one is an {@link EnclaveError} (so callers that handle
 * enclave failures handle these too) with a finer, closed `failure` code, and, when nitro-cli
 * refused, what it said: its `[ Exx ]` code and message.
 */
import { errorGuard, TeeCompileError } from '../errors.js';
import {
  EnclaveError,
  type EnclaveErrorCode,
  type NitroConfigErrorCode,
  type NitroFailure,
} from './errors.js';

/** What a failed nitro-cli invocation said. */
export interface NitroCliFailure {
  /** The subcommand (`run-enclave`, …). */
  command: string;
  args: string[];
  exitCode: number | null;
  signal: string | null;
  /**
   * The root `[ Exx ]` code. When the enclave process fails, nitro-cli prints its error and then
   * its own E39 (aws-nitro-enclaves-cli `src/enclave_proc_comm.rs`): the first one is the cause.
   */
  code: string | undefined;
  /** Every `[ Exx ]` code printed, in order. */
  codes: string[];
  /** nitro-cli's text for the root code (without the help link and log path). */
  message: string;
  /** The end of stderr, for diagnosis. */
  stderrTail: string;
}

/**
 * What the nitro-cli error codes the backend meets mean, in its words (aws-nitro-enclaves-cli
 * `src/common/document_errors.rs`; the User Guide's "Nitro CLI error codes").
 */
export const NITRO_CLI_ERROR_MEANINGS: Readonly<Record<string, string>> = {
  E01: 'a mandatory argument is missing',
  E02: 'conflicting arguments',
  E03: 'an argument is invalid (for the CID: 0-3 and 4294967295 are reserved)',
  E11: 'no such enclave, or its process cannot be reached',
  E19: 'a file could not be opened (the EIF, or the nitro_enclaves device)',
  E20: 'the same CPU was given twice',
  E21: 'a CPU given is not in the enclave pool',
  E22: 'more CPUs than the enclave pool has (allocator.yaml cpu_count)',
  E26: 'less memory than nitro-cli requires: at least 4 times the EIF size',
  E27: 'more memory than the enclave pool has free (allocator.yaml memory_mib)',
  E29: 'a driver call failed (the CID is in use, the CPUs are busy or not whole cores, …)',
  E33: 'the enclave could not be started',
  E35: 'the EIF could not be loaded',
  E36: 'the enclave did not signal that it booted',
  E39: 'the enclave process did not answer',
  E58: 'no enclave has that name, or several have',
};

/** Enclave error code for a nitro-cli refusal: resource refusals are the spec's, the rest starts. */
export function enclaveCodeFor(nitroCode: string | undefined): EnclaveErrorCode {
  return nitroCode === 'E22' || nitroCode === 'E26' || nitroCode === 'E27'
    ? 'ENCLAVE_SPEC_INVALID'
    : 'ENCLAVE_START_FAILED';
}

/** A failure of the nitro backend. */
export class NitroError extends EnclaveError {
  readonly failure: NitroFailure;
  readonly nitroCli: NitroCliFailure | undefined;

  constructor(
    code: EnclaveErrorCode,
    failure: NitroFailure,
    message: string,
    options?: { path?: string; cause?: unknown; nitroCli?: NitroCliFailure },
  ) {
    super(code, message, options);
    this.failure = failure;
    this.nitroCli = options?.nitroCli;
  }
}

/** True for a {@link NitroError}. */
export const isNitroError = errorGuard(NitroError);

/** A nitro-cli failure as our error, naming the code, its meaning and nitro-cli's own words. */
export function nitroCliError(f: NitroCliFailure, doing: string): NitroError {
  const meaning = f.code === undefined ? undefined : NITRO_CLI_ERROR_MEANINGS[f.code];
  const status =
    f.signal !== null ? `signal ${f.signal}` : `exit status ${f.exitCode ?? 'unknown'}`;
  const said = f.code
    ? `${f.code}${meaning ? ` (${meaning})` : ''}: ${f.message}`
    : `${status}${f.stderrTail ? `: ${f.stderrTail}` : ''}`;
  return new NitroError(
    enclaveCodeFor(f.code),
    'NITRO_CLI_FAILED',
    `${doing}: nitro-cli ${f.command} failed with ${said}`,
    { nitroCli: f },
  );
}

/** The nitro backend's configuration is invalid; `path` names the field. */
export class NitroConfigError extends TeeCompileError<NitroConfigErrorCode> {}
