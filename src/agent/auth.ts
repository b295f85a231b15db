/**
 * Bearer-token authentication. The token is read once from a file; requests are compared by the
 * SHA-256 of the presented token against the SHA-256 of the expected one, in constant time, so
 * neither its length nor its content leaks through timing. The token is never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { AgentError } from './errors.js';

/** Shortest token accepted in a token file. */
export const MIN_TOKEN_LENGTH = 16;
/** Largest token file read. */
const MAX_TOKEN_FILE_BYTES = 4096;

/** The expected token's digest. */
export interface TokenCheck {
  digest: Buffer;
  /** True when the file can be read by other users (worth a warning). */
  worldReadable: boolean;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Reads a token file (surrounding whitespace ignored). */
export async function readTokenFile(file: string): Promise<TokenCheck> {
  let text: string;
  let mode: number;
  try {
    const st = await stat(file);
    if (st.size > MAX_TOKEN_FILE_BYTES) throw new Error('file too large');
    mode = st.mode;
    text = (await readFile(file, 'utf8')).trim();
  } catch (err) {
    throw new AgentError(
      'AGENT_CONFIG_INVALID',
      `tokenFile: cannot read ${file}: ${(err as Error).message}`,
      {
        path: 'tokenFile',
      },
    );
  }
  if (text.length < MIN_TOKEN_LENGTH || /\s/.test(text))
    throw new AgentError(
      'AGENT_CONFIG_INVALID',
      `tokenFile: the token must be one word of at least ${MIN_TOKEN_LENGTH} characters`,
      { path: 'tokenFile' },
    );
  return { digest: sha256(text), worldReadable: (mode & 0o004) !== 0 };
}

/** Throws AGENT_UNAUTHORIZED unless the request carries `Authorization: Bearer <token>`. */
export function checkBearer(req: IncomingMessage, expected: TokenCheck): void {
  const header = req.headers.authorization ?? '';
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  const presented = sha256(m?.[1] ?? '');
  // Always compare, even without a header, so both paths take the same time.
  const ok = timingSafeEqual(presented, expected.digest) && m !== null;
  if (!ok) throw new AgentError('AGENT_UNAUTHORIZED', 'missing or invalid bearer token');
}
