/**
 * The one escaping of untrusted text for people to read: member and subject names, commands,
 * messages, repositories, builder names, anything that came from a bundle, a policy or a program's
 * output. Whatever a string holds, its printable form is one line of visible characters, so that it
 * can neither start a line of its own, move the cursor, clear a terminal, nor reorder the text
 * around it:
 *
 * - C0 and C1 control characters (newline, carriage return, tab, ESC, CSI U+009B, NEL U+0085…) and
 *   DEL are shown as `\xNN`;
 * - line and paragraph separators (U+2028, U+2029), bidirectional overrides, embeddings, isolates
 *   and marks (U+202A-202E, U+2066-2069, U+200E, U+200F, U+061C), every other invisible format
 *   character (zero-width space and joiners, word joiner, U+FEFF, soft hyphen, tag characters: the
 *   Unicode category Cf), spaces other than U+0020, and characters that render as nothing (Hangul
 *   fillers, the combining grapheme joiner, Mongolian variation selectors) are shown as `\uNNNN`
 *   (`\u{NNNNN}` above U+FFFF);
 * - lone UTF-16 surrogates are shown as `\uNNNN` too.
 *
 * A backslash is left as it is, so that escaping is idempotent: every layer (the verifier's
 * summaries, the readable report, Markdown) may apply it again without doubling backslashes.
 * Pure (no Node API): the verify path and a web page use it.
 */

/** Default longest printable form (characters), the ellipsis included. */
export const MAX_PRINTABLE_CHARS = 120;

/**
 * What is escaped: control (Cc), format (Cf), surrogate (Cs), line and paragraph separators (Zl,
 * Zp), spaces other than U+0020 (Zs), and the letters and marks that render as nothing.
 */
const UNSAFE =
  // The class is tested one code point at a time, so that neighbours in it never combine.
  // eslint-disable-next-line no-misleading-character-class
  /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\p{Zs}\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\uffa0\u{e0100}-\u{e01ef}\ufe00-\ufe0f]/u;

/** True when `c` (one code point, or one lone surrogate) is shown escaped. */
function unsafe(c: string): boolean {
  return c !== ' ' && UNSAFE.test(c);
}

/** The visible form of one code point. */
function escapeChar(c: string): string {
  const n = c.codePointAt(0)!;
  if (n <= 0xff) return `\\x${n.toString(16).padStart(2, '0')}`;
  if (n <= 0xffff) return `\\u${n.toString(16).padStart(4, '0')}`;
  return `\\u{${n.toString(16)}}`;
}

/**
 * `s` as one line of visible text (see the module comment), cut to at most `max` characters with
 * an ellipsis. The cut falls between code points and escapes, never inside one.
 */
export function printable(s: string, max = MAX_PRINTABLE_CHARS): string {
  let out = '';
  // Where `out` may be cut with room left for the ellipsis.
  let fits = 0;
  // Iterating a string yields code points; a lone surrogate comes alone.
  for (const c of s) {
    const piece = unsafe(c) ? escapeChar(c) : c;
    if (out.length + piece.length > max) return max < 1 ? '' : `${out.slice(0, fits)}…`;
    out += piece;
    if (out.length <= max - 1) fits = out.length;
  }
  return out;
}
