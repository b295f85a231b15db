/**
 * provenance.json is parsed only once it is known to be small and shallow: its size is bounded by
 * the bundle reader at its header (`maxProvenanceBytes`), its JSON nesting depth here, by one scan
 * over the bytes before any parser sees them (a 16 MiB `[[[[…` would otherwise cost seconds in
 * parsing and validation). Pure.
 */
import { TeeCompileError } from '../errors.js';
import { parseStatement } from '../provenance/index.js';
import type { ProvenanceStatement } from '../provenance/index.js';
import { VerifyError } from './errors.js';

/** Deepest JSON nesting accepted in provenance.json (our statements nest about 8 levels). */
export const MAX_PROVENANCE_DEPTH = 64;

/**
 * The deepest nesting of arrays and objects in JSON text, counted outside strings, stopping as
 * soon as it exceeds `max`. Works on bytes: every structural character is ASCII in UTF-8.
 */
export function jsonDepthExceeds(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/**
 * Parses provenance.json (untrusted) after the depth bound; every refusal is PROVENANCE_INVALID
 * with the failing field's path.
 */
export function parseProvenance(bytes: Uint8Array): ProvenanceStatement {
  if (jsonDepthExceeds(bytes, MAX_PROVENANCE_DEPTH))
    throw new VerifyError(
      'PROVENANCE_INVALID',
      `provenance.json: nested deeper than ${MAX_PROVENANCE_DEPTH} levels (refused before parsing)`,
    );
  try {
    return parseStatement(bytes);
  } catch (e) {
    if (!(e instanceof TeeCompileError)) throw e;
    const opts: { path?: string; cause: unknown } = { cause: e };
    if (e.path !== undefined) opts.path = e.path;
    throw new VerifyError('PROVENANCE_INVALID', `provenance.json: ${e.message}`, opts);
  }
}
