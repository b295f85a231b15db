/**
 * Small Markdown helpers for the job summary and check runs. Names, paths and messages come from
 * bundles and the agent (attacker-controlled): they are escaped so that they cannot add links,
 * HTML, images or break a table.
 */

/** Replaces runs of control characters (newlines included) with one space. */
export function stripControl(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f]+/g, ' ');
}

/** True when `s` holds a control character. */
export function hasControl(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\x00-\x1f\x7f]/.test(s);
}

/** Longest check run summary GitHub accepts (characters). */
export const MAX_CHECK_SUMMARY = 65_535;
/** Longest check run title we write. */
export const MAX_CHECK_TITLE = 200;

/** Plain text: Markdown and HTML specials escaped, control characters and newlines removed. */
export function text(s: string, max = 500): string {
  const cut = s.length > max ? `${s.slice(0, max)}…` : s;
  return stripControl(cut).replace(/[\\`*_{}[\]()<>#+!|~&]/g, (c) => `\\${c}`);
}

/** A code span (for digests, paths, commands): backticks and newlines cannot escape it. */
export function code(s: string, max = 300): string {
  const cut = s.length > max ? `${s.slice(0, max)}…` : s;
  return '`' + stripControl(cut).replace(/`/g, "'").replace(/\|/g, '\\|') + '`';
}

/** A table. */
export function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** A fenced block of shell commands (the values in it are ours or hex, never free text). */
export function shell(lines: string[]): string {
  return ['```sh', ...lines, '```'].join('\n');
}

/** Cuts a check run summary to what GitHub accepts. */
export function fitCheckSummary(md: string): string {
  if (md.length <= MAX_CHECK_SUMMARY) return md;
  const note = '\n\n… (cut: the job summary has everything)';
  return md.slice(0, MAX_CHECK_SUMMARY - note.length) + note;
}

/** A one-line title for a check run. */
export function title(s: string): string {
  const t = stripControl(s);
  return t.length > MAX_CHECK_TITLE ? `${t.slice(0, MAX_CHECK_TITLE - 1)}…` : t;
}

/** Quotes a value for a POSIX shell command line. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9._/:=@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A glob for a POSIX shell command line: left for the shell to expand when it is a plain one. */
export function shellGlob(s: string): string {
  return /^[A-Za-z0-9._*?/+-]+$/.test(s) ? s : shellQuote(s);
}
