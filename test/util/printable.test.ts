import { describe, expect, it } from '@jest/globals';
import { printable } from '../../src/util/printable.js';

/** Nothing in `s` that a terminal or a browser would act on or hide. */
// eslint-disable-next-line no-control-regex
const RAW = /[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\p{Cs}]/u;

describe('printable: one escaping of untrusted text', () => {
  it.each([
    ['a newline', 'a\n✔ VERIFIED', 'a\\x0a✔ VERIFIED'],
    ['a carriage return', 'ok\rverdict: VERIFIED', 'ok\\x0dverdict: VERIFIED'],
    ['a tab and a vertical tab', 'a\tb\vc', 'a\\x09b\\x0bc'],
    ['NUL and DEL', 'a\0b\x7f', 'a\\x00b\\x7f'],
    ['an ANSI clear-screen', '\x1b[2J\x1b[Hverdict: VERIFIED', '\\x1b[2J\\x1b[Hverdict: VERIFIED'],
    ['a C1 CSI and NEL', 'a\u009b2Jb\u0085c', 'a\\x9b2Jb\\x85c'],
    ['line and paragraph separators', 'a\u2028b\u2029c', 'a\\u2028b\\u2029c'],
    ['a right-to-left override', 'evil\u202etxt.exe', 'evil\\u202etxt.exe'],
    [
      'bidi embeddings and marks',
      '\u202a\u202b\u202c\u202d\u200e\u200f\u061c',
      '\\u202a\\u202b\\u202c\\u202d\\u200e\\u200f\\u061c',
    ],
    ['bidi isolates', '\u2066a\u2067b\u2068c\u2069', '\\u2066a\\u2067b\\u2068c\\u2069'],
    [
      'zero-width characters and a BOM',
      'a\u200bb\u200cc\u200dd\u2060e\ufeff',
      'a\\u200bb\\u200cc\\u200dd\\u2060e\\ufeff',
    ],
    ['a soft hyphen and a tag character', 'a\u00adb\u{e0041}', 'a\\xadb\\u{e0041}'],
    ['spaces other than U+0020', 'a\u00a0b\u3000c d', 'a\\xa0b\\u3000c d'],
    [
      'characters that render as nothing',
      'a\u3164b\u115fc\u034fd\ufe0fe',
      'a\\u3164b\\u115fc\\u034fd\\ufe0fe',
    ],
    ['a lone high surrogate', 'a\ud800b', 'a\\ud800b'],
    ['a lone low surrogate', 'a\udc00b', 'a\\udc00b'],
  ])('when the text holds %s, it is shown escaped on one line', (_what, input, want) => {
    const out = printable(input, 1000);
    expect(out).toBe(want);
    expect(out).not.toMatch(RAW);
  });

  it('when the text is ordinary (letters of any script, emoji, punctuation, backslashes), it is unchanged', () => {
    const s = 'target/release/héllo-Ωμέγα_日本語 🦀 (v1.0) \\x1b';
    expect(printable(s, 1000)).toBe(s);
  });

  it('when escaped twice, the text is the same as escaped once (every layer may apply it)', () => {
    const s = 'a\n\x1b[31m\u202eb\ud800';
    expect(printable(printable(s, 1000), 1000)).toBe(printable(s, 1000));
  });

  it('when the text is longer than the limit, it is cut with an ellipsis between escapes and code points, never inside one', () => {
    expect(printable('abcdef', 4)).toBe('abc…');
    expect(printable('abcd', 4)).toBe('abcd');
    // `ab\x1b` is 6 characters: with the ellipsis, the escape does not fit and is dropped whole.
    expect(printable('ab\x1bcd', 6)).toBe('ab…');
    expect(printable('ab\x1bcd', 7)).toBe('ab\\x1b…');
    // A surrogate pair is one code point: never split.
    expect(printable('ab🦀cd', 4)).toBe('ab…');
    expect(printable('ab🦀cd', 5)).toBe('ab🦀…');
    for (let max = 1; max < 20; max++) {
      const out = printable('x\u202ey\n🦀z\ud800w', max);
      expect(out.length).toBeLessThanOrEqual(max);
      expect(out).not.toMatch(RAW);
    }
  });
});
