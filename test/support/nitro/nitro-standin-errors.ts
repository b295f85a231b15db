/**
 * The error output of the stand-in nitro-cli, as nitro-cli 1.x writes it.
 *
 * - Codes and texts: aws-nitro-enclaves-cli `src/common/document_errors.rs` (`ERROR_CODES`,
 *   `get_detailed_info`, `construct_help_link`).
 * - Layout: `src/common/mod.rs construct_error_message`: the detailed text, a blank line, the help
 *   link, a blank line, and the path of the backtrace log; the process then exits with the error's
 *   enum value (`ok_or_exit_with_errno`: `E26` exits with status 26).
 * - A failure inside the enclave process (everything `run-enclave` does after parsing its
 *   arguments) reaches the user twice: the enclave process's own `[ Exx ]` message, forwarded to
 *   stderr, then the CLI's "Failed connections: 1" and `[ E39 ]`, exit status 39
 *   (`src/enclave_proc/mod.rs process_event_loop`, `src/enclave_proc_comm.rs
 *   enclave_process_handle_all_replies`). Real output of this shape: aws-nitro-enclaves-cli issues
 *   #433 (E29 then E39) and #644 (E19 then E39).
 *
 * Kept apart from the backend's own table on purpose: the stand-in states what nitro-cli prints,
 * the backend states what it understands, and the tests check that the two meet.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** Numeric values of the `NitroCliErrorEnum` variants the stand-in raises (= exit statuses). */
export const NITRO_EXIT = {
  E03: 3,
  E11: 11,
  E19: 19,
  E21: 21,
  E22: 22,
  E26: 26,
  E27: 27,
  E29: 29,
  E35: 35,
  E36: 36,
  E39: 39,
  E58: 58,
} as const;

export type StandinErrorCode = keyof typeof NITRO_EXIT;

const MISSING = 'MISSING_INFO';
const ALLOCATOR_HINT = (key: string): string =>
  `You can increase the ${key === 'cpu_count' ? 'CPU pool size' : 'available memory'} by editing the \`${key}\` value from '/etc/nitro_enclaves/allocator.yaml' and then enable the nitro-enclaves-allocator.service.`;

/** `get_detailed_info(code, additional_info)`: the `[ Exx ] …` text. */
export function detailedInfo(code: StandinErrorCode, info: string[] = []): string {
  const a = (i: number): string => info[i] ?? MISSING;
  let text: string;
  switch (code) {
    case 'E03':
      text = `Invalid argument provided. The parameter \`${a(0)}\` is not a valid integer (\`${a(1)}\`)`;
      break;
    case 'E11':
      text =
        'Socket error. This is used as an error for catching any other socket operation errors not covered by previous custom errors.';
      break;
    case 'E19':
      text =
        'File operation failure. Such error appears when the system fails to perform the requested file operations, such as opening the EIF file when launching an enclave, or seeking to a specific offset in the EIF file, or writing to the log file.';
      if (info.length >= 2) text += `\nFile: '${a(0)}', failing operation: '${a(1)}'.`;
      break;
    case 'E21':
      text = `No such CPU available in the pool. User provided \`${a(0)}\` contains CPU ${a(1)}, which is not available in the pool.\nYou can add a specific CPU to the CPU pool by editing the \`cpu_pool\` value from '/etc/nitro_enclaves/allocator.yaml' and then enable the nitro-enclaves-allocator.service.`;
      break;
    case 'E22':
      text = `Insufficient CPUs available in the pool. User provided \`${a(0)}\` is ${a(1)}, which is more than the configured CPU pool size.\n${ALLOCATOR_HINT('cpu_count')}`;
      break;
    case 'E26':
      text =
        info.length >= 3
          ? `Insufficient memory requested. User provided \`${a(0)}\` is ${a(1)} MB, but based on the EIF file size, the minimum memory should be ${a(2)} MB`
          : `Insufficient memory requested. User provided \`${a(0)}\` is ${a(1)} MB, and memory should be greated than 0 MB.`;
      break;
    case 'E27':
      text = `Insufficient memory available. User provided \`${a(0)}\` is ${a(1)} MB, which is more than the available hugepage memory.\n${ALLOCATOR_HINT('memory_mib')}`;
      break;
    case 'E29':
      text =
        'Ioctl failure. Such error is used as a general ioctl error and appears whenever an ioctl fails. In this case, the error backtrace provides detailed information on what specifically failed during the ioctl.';
      break;
    case 'E35':
      text =
        'EIF file parsing error. Such errors appear when attempting to fill a memory region with a section of the EIF file, but reading the entire section fails. This might indicate that the required hugepages are not available.';
      break;
    case 'E36':
      text =
        'Enclave boot failure. Such error appears when attempting to receive the `ready` signal from a freshly booted enclave. It arises in several contexts, for instance, when the enclave is booted from an invalid EIF file and the enclave process immediately exits, failing to submit the `ready` signal. In this case, the error backtrace provides detailed information on what specifically failed during the enclave boot process.';
      break;
    case 'E39':
      text =
        'Enclave process connection failure. Such error appears when the enclave manager fails to connect to at least one enclave process for retrieving the description information.';
      break;
    case 'E58':
      text =
        'Naming error. Such error appears when trying to perform an enclave operation using the enclave name and the name is invalid.';
      break;
  }
  return `[ ${code} ] ${text}`;
}

/** One failure: the code, its `additional_info`, and the backtrace's root cause. */
export interface StandinFailure {
  code: StandinErrorCode;
  info?: string[];
  /** The subaction nitro-cli records in the backtrace log (not printed). */
  cause: string;
}

/** Thrown inside the stand-in; the entry point prints it as nitro-cli does. */
export class StandinError extends Error {
  constructor(readonly failure: StandinFailure) {
    super(failure.cause);
  }
}

/**
 * `construct_error_message`: the detailed text, the help link and the backtrace log, which is
 * written under `<state>/log` (nitro-cli: /var/log/nitro_enclaves/err<time>.log).
 */
export function errorMessage(stateDir: string, action: string, f: StandinFailure): string {
  const logDir = join(stateDir, 'log');
  mkdirSync(logDir, { recursive: true });
  const log = join(logDir, `err${new Date().toISOString()}.log`);
  appendFileSync(
    log,
    `  Action: ${action}\n  Subactions:\n    ${f.cause}\n  Root error file: nitro-cli-standin\n  Root error line: 0\n  Build commit: not available`,
  );
  return `${detailedInfo(f.code, f.info)}\n\nFor more details, please visit https://docs.aws.amazon.com/enclaves/latest/user/cli-errors.html#${f.code}\n\nIf you open a support ticket, please provide the error log found at "${log}"`;
}
