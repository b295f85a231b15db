/**
 * Small Markdown helpers for the job summary and check runs. Names, paths and messages come from
 * bundles and the agent (attacker-controlled): each is first made one line of visible characters
 * by the project's one escaping (`printable`: control characters, ANSI escapes, bidi overrides and
 * invisible characters shown as `\x1b`, `\u202e`…), then escaped for Markdown so that it cannot
 * add links, HTML, images, math or break a table.
 */
import { printable } from '../util/printable.js';

/** True when `s` holds a control character. */
export function hasControl(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\x00-\x1f\x7f]/.test(s);
}

/** Longest check run summary GitHub accepts (characters). */
export const MAX_CHECK_SUMMARY = 65_535;
/** Longest check run title we write. */
export const MAX_CHECK_TITLE = 200;

/** Plain text: one visible line (see `printable`), Markdown, HTML and math specials escaped. */
export function text(s: string, max = 500): string {
  return printable(s, max).replace(/[\\`*_{}[\]()<>#+!|~&$]/g, (c) => `\\${c}`);
}

/** A code span (for digests, paths, commands): backticks and newlines cannot escape it. */
export function code(s: string, max = 300): string {
  return '`' + printable(s, max).replace(/`/g, "'").replace(/\|/g, '\\|') + '`';
}

/** Longest line of a preformatted block. */
export const MAX_PREFORMATTED_LINE = 2000;

/**
 * A fenced block of untrusted text (e.g. diffoscope's report): each line escaped (see
 * `printable`), and a fence longer than any backtick run in it, so that the text cannot close it.
 */
export function preformatted(body: string): string {
  const lines = body
    .replace(/\n+$/, '')
    .split('\n')
    .map((l) => printable(l, MAX_PREFORMATTED_LINE));
  const longest = Math.max(0, ...lines.flatMap((l) => l.match(/`+/g) ?? []).map((m) => m.length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return [`${fence}text`, ...lines, fence].join('\n');
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

/** A one-line title for a check run (plain text, escaped: see `printable`). */
export function title(s: string): string {
  return printable(s, MAX_CHECK_TITLE);
}

/** Quotes a value for a POSIX shell command line. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9._/:=@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A glob for a POSIX shell command line: left for the shell to expand when it is a plain one. */
export function shellGlob(s: string): string {
  return /^[A-Za-z0-9._*?/+-]+$/.test(s) ? s : shellQuote(s);
}
