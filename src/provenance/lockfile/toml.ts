/**
 * A strict reader for the subset of TOML (https://toml.io/en/v1.0.0) that Cargo writes in
 * Cargo.lock: comments, `key = value` with basic strings, literal strings, integers, booleans and
 * (multi-line) arrays of those, `[table]` and `[[array.of.tables]]` headers with bare or quoted
 * keys. Anything else is refused with its line number rather than guessed at.
 */
export type TomlValue = string | number | boolean | TomlValue[] | TomlTable | TomlTable[];
export interface TomlTable {
  [key: string]: TomlValue;
}

/** Thrown with a 1-based line number; the lockfile parser turns it into LOCKFILE_MALFORMED. */
export class TomlError extends Error {
  override name = 'TomlError';
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
  }
}

const BARE_KEY = /^[A-Za-z0-9_-]+/;
const ESCAPES: Record<string, string> = {
  b: '\b',
  t: '\t',
  n: '\n',
  f: '\f',
  r: '\r',
  '"': '"',
  '\\': '\\',
};

class Cursor {
  pos = 0;
  line = 1;
  constructor(readonly src: string) {}
  get ch(): string | undefined {
    return this.src[this.pos];
  }
  fail(msg: string): never {
    throw new TomlError(msg, this.line);
  }
  skipSpaces(): void {
    while (this.ch === ' ' || this.ch === '\t') this.pos++;
  }
  /** Skips spaces, comments and newlines (inside arrays). */
  skipBlank(): void {
    for (;;) {
      this.skipSpaces();
      if (this.ch === '#') this.skipComment();
      else if (this.ch === '\n') {
        this.pos++;
        this.line++;
      } else if (this.ch === '\r' && this.src[this.pos + 1] === '\n') {
        this.pos += 2;
        this.line++;
      } else return;
    }
  }
  skipComment(): void {
    while (this.ch !== undefined && this.ch !== '\n') this.pos++;
  }
  /** End of a statement: optional spaces and comment, then a newline or the end. */
  endOfLine(): void {
    this.skipSpaces();
    if (this.ch === '#') this.skipComment();
    if (this.ch === undefined) return;
    if (this.ch === '\r' && this.src[this.pos + 1] === '\n') this.pos++;
    if (this.ch !== '\n') this.fail(`unexpected ${JSON.stringify(this.ch)}`);
    this.pos++;
    this.line++;
  }
}

function parseBasicString(c: Cursor): string {
  c.pos++; // opening quote
  let out = '';
  for (;;) {
    const ch = c.ch;
    if (ch === undefined || ch === '\n') c.fail('unterminated string');
    c.pos++;
    if (ch === '"') return out;
    if (ch === '\\') {
      const e = c.ch;
      c.pos++;
      if (e !== undefined && e in ESCAPES) out += ESCAPES[e]!;
      else if (e === 'u' || e === 'U') {
        const n = e === 'u' ? 4 : 8;
        const hex = c.src.slice(c.pos, c.pos + n);
        if (!new RegExp(`^[0-9A-Fa-f]{${n}}$`).test(hex)) c.fail('bad unicode escape');
        const cp = parseInt(hex, 16);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) c.fail('bad unicode escape');
        out += String.fromCodePoint(cp);
        c.pos += n;
      } else c.fail('bad escape in string');
    } else if (ch < ' ' && ch !== '\t') c.fail('control character in string');
    else out += ch;
  }
}

function parseLiteralString(c: Cursor): string {
  const end = c.src.indexOf("'", c.pos + 1);
  const nl = c.src.indexOf('\n', c.pos + 1);
  if (end < 0 || (nl >= 0 && nl < end)) c.fail('unterminated literal string');
  const s = c.src.slice(c.pos + 1, end);
  c.pos = end + 1;
  return s;
}

function parseKey(c: Cursor): string[] {
  const parts: string[] = [];
  for (;;) {
    c.skipSpaces();
    if (c.ch === '"') parts.push(parseBasicString(c));
    else if (c.ch === "'") parts.push(parseLiteralString(c));
    else {
      const m = BARE_KEY.exec(c.src.slice(c.pos, c.pos + 256));
      if (m === null) c.fail('expected a key');
      parts.push(m[0]);
      c.pos += m[0].length;
    }
    c.skipSpaces();
    if (c.ch !== '.') return parts;
    c.pos++;
  }
}

function parseValue(c: Cursor, depth: number): TomlValue {
  if (depth > 8) c.fail('arrays nested too deeply');
  const ch = c.ch;
  if (ch === '"') {
    if (c.src.startsWith('"""', c.pos)) c.fail('multi-line strings are not used in Cargo.lock');
    return parseBasicString(c);
  }
  if (ch === "'") return parseLiteralString(c);
  if (ch === '[') {
    c.pos++;
    const arr: TomlValue[] = [];
    for (;;) {
      c.skipBlank();
      if (c.ch === ']') {
        c.pos++;
        return arr;
      }
      arr.push(parseValue(c, depth + 1));
      c.skipBlank();
      if (c.ch === ',') c.pos++;
      else if (c.ch !== ']') c.fail('expected `,` or `]` in array');
    }
  }
  const m = /^(true|false|[+-]?(?:0|[1-9](?:_?[0-9])*))(?=[\s,\]#]|$)/.exec(
    c.src.slice(c.pos, c.pos + 64),
  );
  if (m === null)
    c.fail('unsupported value (expected a string, an integer, a boolean or an array)');
  c.pos += m[0].length;
  if (m[0] === 'true') return true;
  if (m[0] === 'false') return false;
  const n = Number(m[0].replace(/_/g, ''));
  if (!Number.isSafeInteger(n)) c.fail('integer out of range');
  return n;
}

function isTable(v: TomlValue | undefined): v is TomlTable {
  return typeof v === 'object' && !Array.isArray(v);
}

/** Parses the Cargo.lock subset of TOML. Duplicate keys and redefined tables are refused. */
export function parseTomlLock(src: string): TomlTable {
  const root: TomlTable = Object.create(null) as TomlTable;
  const c: Cursor = new Cursor(src);
  let current = root;
  const defined = new Set<TomlTable>();
  for (;;) {
    c.skipBlank();
    if (c.ch === undefined) return root;
    if (c.ch === '[') {
      const array = c.src[c.pos + 1] === '[';
      c.pos += array ? 2 : 1;
      const key = parseKey(c);
      if (c.src[c.pos] !== ']' || (array && c.src[c.pos + 1] !== ']'))
        c.fail('unterminated table header');
      c.pos += array ? 2 : 1;
      c.endOfLine();
      let t = root;
      for (const k of key.slice(0, -1)) {
        let next = t[k];
        if (next === undefined) t[k] = next = Object.create(null) as TomlTable;
        if (Array.isArray(next)) next = next[next.length - 1];
        if (!isTable(next)) c.fail(`\`${k}\` is not a table`);
        t = next;
      }
      const last = key[key.length - 1]!;
      if (array) {
        let list = t[last];
        if (list === undefined) t[last] = list = [];
        if (!Array.isArray(list) || defined.has(list as unknown as TomlTable)) {
          c.fail(`\`${key.join('.')}\` is not an array of tables`);
        }
        const fresh = Object.create(null) as TomlTable;
        (list as TomlTable[]).push(fresh);
        current = fresh;
      } else {
        const existing = t[last];
        if (existing !== undefined && (!isTable(existing) || defined.has(existing))) {
          c.fail(`table \`${key.join('.')}\` defined twice`);
        }
        const table = existing ?? (Object.create(null) as TomlTable);
        t[last] = table;
        defined.add(table);
        current = table;
      }
      continue;
    }
    const key = parseKey(c);
    if (c.ch !== '=') c.fail('expected `=` after a key');
    c.pos++;
    c.skipSpaces();
    const value = parseValue(c, 0);
    c.endOfLine();
    let t = current;
    for (const k of key.slice(0, -1)) {
      let next = t[k];
      if (next === undefined) t[k] = next = Object.create(null) as TomlTable;
      if (!isTable(next)) c.fail(`\`${k}\` is not a table`);
      t = next;
    }
    const last = key[key.length - 1]!;
    if (last in t) c.fail(`duplicate key \`${key.join('.')}\``);
    t[last] = value;
  }
}
