import { TeeCompileError } from '../errors.js';
import type { VerifyErrorCode } from './types.js';

/** A refusal raised inside verification, or an invalid policy; `code` is from VERIFY_ERROR_CODES. */
export class VerifyError extends TeeCompileError<VerifyErrorCode> {}

/** True for errors raised by the verify module. */
export function isVerifyError(e: unknown): e is VerifyError {
  return e instanceof VerifyError;
}
