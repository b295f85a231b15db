/**
 * git's `gpg.ssh.allowedSignersFile`, the format of ssh-keygen(1) "ALLOWED SIGNERS": one line per
 * key, `principals [options] keytype base64-key [comment]`, `#` comments. Options honoured:
 * `namespaces="..."` (the signature's namespace must be listed), `valid-after` and `valid-before`
 * (checked at the commit's or tag's own time, as git passes `-Overify-time`). `cert-authority`
 * lines are read but never match: signatures made with certificates are not verified here.
 * Times are `YYYYMMDD[HHMM[SS]]` with an optional `Z`; tee-compile reads them as UTC either way
 * (ssh-keygen reads a time without `Z` in the verifier's local zone, which would make a verdict
 * depend on where it runs). Our own parser: the format is small and a verifier must not guess.
 */
import { bytesEqual } from '../util/hex.js';
import { SignatureError } from './errors.js';
import { decodeBase64Lines, sshKeyTypeName } from './ssh-wire.js';

/** Largest allowed signers file read, and most lines. */
export const MAX_ALLOWED_SIGNERS_BYTES = 1024 * 1024;
export const MAX_ALLOWED_SIGNERS = 10_000;

/** One line of an allowed signers file. */
export interface AllowedSigner {
  /** Principal patterns (e.g. `alice@acme`, `*@acme`); `!` negates. */
  principals: string[];
  certAuthority: boolean;
  /** Namespaces the key may sign in; null: any. */
  namespaces: string[] | null;
  /** Seconds since the epoch; null when absent. */
  validAfter: number | null;
  validBefore: number | null;
  /** The public key blob. */
  key: Uint8Array;
}

function bad(line: number, what: string, name: string): never {
  throw new SignatureError('ALLOWED_SIGNERS_INVALID', `${name}:${line}: ${what}`, {
    path: `${name}:${line}`,
  });
}

/** Reads one whitespace-delimited token, honouring double quotes; returns it and the rest. */
function token(s: string): [string, string] {
  let i = 0;
  let quoted = false;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === ' ' || c === '\t')) break;
    i++;
  }
  return [s.slice(0, i), s.slice(i).trimStart()];
}

/** `YYYYMMDD[HHMM[SS]][Z]` as seconds since the epoch (UTC), or null. */
export function parseSignerTime(v: string): number | null {
  const m = /^([0-9]{4})([0-9]{2})([0-9]{2})(?:([0-9]{2})([0-9]{2})([0-9]{2})?)?Z?$/.exec(v);
  if (m === null) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x)));
  const t = Date.UTC(y!, mo! - 1, d, h, mi, s);
  const back = new Date(t);
  if (back.getUTCMonth() !== mo! - 1 || back.getUTCDate() !== d! || h! > 23 || mi! > 59 || s! > 59)
    return null;
  return t / 1000;
}

const KEY_TYPE_RE = /^(?:ssh-|ecdsa-|sk-)/;

function parseOptions(
  text: string,
  line: number,
  name: string,
): Omit<AllowedSigner, 'principals' | 'key'> {
  const out: Omit<AllowedSigner, 'principals' | 'key'> = {
    certAuthority: false,
    namespaces: null,
    validAfter: null,
    validBefore: null,
  };
  const re = /([a-zA-Z-]+)(?:="([^"]*)")?(?:,|$)/y;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (m === null) bad(line, `cannot read the options ${JSON.stringify(text.slice(0, 80))}`, name);
    at = re.lastIndex;
    const [, opt, value] = m;
    const key = opt!.toLowerCase();
    if (key === 'cert-authority') out.certAuthority = true;
    else if (key === 'namespaces' && value !== undefined) out.namespaces = value.split(',');
    else if ((key === 'valid-after' || key === 'valid-before') && value !== undefined) {
      const t = parseSignerTime(value);
      if (t === null)
        bad(line, `${key}: expected YYYYMMDD[HHMM[SS]][Z], got ${JSON.stringify(value)}`, name);
      if (key === 'valid-after') out.validAfter = t;
      else out.validBefore = t;
    } else bad(line, `unknown option ${JSON.stringify(opt)}`, name);
  }
  return out;
}

/** Parses an allowed signers file. Throws ALLOWED_SIGNERS_INVALID naming the line. */
export function parseAllowedSigners(text: string, name = 'allowed_signers'): AllowedSigner[] {
  if (text.length > MAX_ALLOWED_SIGNERS_BYTES)
    bad(0, `larger than ${MAX_ALLOWED_SIGNERS_BYTES} bytes`, name);
  const out: AllowedSigner[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const n = i + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (out.length >= MAX_ALLOWED_SIGNERS) bad(n, `more than ${MAX_ALLOWED_SIGNERS} keys`, name);
    const [quotedPrincipals, rest] = token(line);
    const principals = quotedPrincipals
      .replace(/^"(.*)"$/, '$1')
      .split(',')
      .filter((p) => p !== '');
    if (principals.length === 0) bad(n, 'no principal', name);
    let options = parseOptions('', n, name);
    let [next, after] = token(rest);
    if (!KEY_TYPE_RE.test(next)) {
      options = parseOptions(next, n, name);
      [next, after] = token(after);
    }
    const [b64] = token(after);
    const key = decodeBase64Lines(b64);
    if (!KEY_TYPE_RE.test(next) || key === null)
      bad(n, 'expected `keytype base64-key` after the principals and options', name);
    if (sshKeyTypeName(key) !== next)
      bad(n, `the key is a ${sshKeyTypeName(key)} key, not ${next}`, name);
    out.push({ principals, ...options, key });
  });
  return out;
}

function wildcard(pattern: string, s: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(s);
}

/** True when `principal` matches the line's patterns (OpenSSH `match_pattern_list`: a `!` match vetoes). */
export function principalMatches(patterns: readonly string[], principal: string): boolean {
  let ok = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (wildcard(p.slice(1), principal)) return false;
    } else if (wildcard(p, principal)) ok = true;
  }
  return ok;
}

/** Why a line does not allow `key` to sign in `namespace` at `time`, or null when it does. */
export function signerRefusal(
  s: AllowedSigner,
  key: Uint8Array,
  namespace: string,
  time: number,
): string | null {
  if (!bytesEqual(s.key, key)) return 'another key';
  if (s.certAuthority) return 'a certificate authority (certificates are not verified)';
  if (s.namespaces !== null && !s.namespaces.includes(namespace))
    return `namespaces ${s.namespaces.join(',')}`;
  if (s.validAfter !== null && time < s.validAfter)
    return `not valid before ${new Date(s.validAfter * 1000).toISOString()}`;
  if (s.validBefore !== null && time > s.validBefore)
    return `expired ${new Date(s.validBefore * 1000).toISOString()}`;
  return null;
}
