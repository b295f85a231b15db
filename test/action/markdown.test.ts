/**
 * The action's Markdown (job summary, check runs) under attack: names, messages and reports from
 * bundles and policies carrying newlines, ANSI escapes, bidi overrides, Markdown and HTML.
 */
import { describe, expect, it } from '@jest/globals';
import { code, preformatted, text, title } from '../../src/action/markdown.js';
import { verifySummary } from '../../src/action/summary.js';
import type { SetVerification, TrustPolicy } from '../../src/verify/index.js';
import { verifyBundles } from '../../src/verify/index.js';
import {
  BUILDERS,
  VERIFIED_AT,
  builderPcr3,
  makeBundle,
} from '../support/bundles/bundle-factory.js';
import { simulatedPolicy } from '../support/bundles/verify-policy.js';

const ATTACK = 'x\n## ✔ VERIFIED\n\x1b[2J\u202eexe.txt | <img src=x> `$x$`';
/** The attack as an artifact name can carry it: bundles refuse names with control characters. */
const NAME_ATTACK = '## ✔ VERIFIED \u202eexe.txt | <img src=x> `$x$`';
// eslint-disable-next-line no-control-regex
const RAW = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/u;

describe('Markdown escaping', () => {
  it('when plain text carries newlines, ANSI, an RLO, a pipe, HTML and math, it is one escaped line', () => {
    const t = text(ATTACK);
    expect(t).not.toMatch(RAW);
    expect(t).not.toContain('\n');
    expect(t).toContain('\\\\x0a\\#\\# ✔ VERIFIED');
    expect(t).toContain('\\\\u202e');
    expect(t).toContain('\\|');
    expect(t).toContain('\\<img src=x\\>');
    expect(t).toContain('\\$x\\$');
  });

  it('when a code span carries a backtick, a pipe and a newline, it cannot be closed or break a table', () => {
    const c = code(ATTACK);
    expect(c).toMatch(/^`[^`]*`$/);
    expect(c).not.toMatch(RAW);
    expect(c).toContain('\\|');
    expect(c).toContain('\\x1b[2J');
  });

  it('when a check run title carries the attack, it is one escaped line', () => {
    const t = title(ATTACK);
    expect(t).not.toMatch(RAW);
    expect(t).not.toContain('\n');
  });

  it('when a preformatted report carries backtick fences and ANSI, the fence stays longer and each line is escaped', () => {
    const block = preformatted(`a\n\`\`\`\`\nb\x1b[2J\u202e\n`);
    const lines = block.split('\n');
    expect(lines[0]).toBe('`````text');
    expect(lines[lines.length - 1]).toBe('`````');
    expect(lines).toEqual(['`````text', 'a', '````', 'b\\x1b[2J\\u202e', '`````']);
  });
});

describe('the job summary of a verification, attacked', () => {
  it('when artifact names, builder names and file contents carry the attack, no line of the summary starts with it and nothing is raw', async () => {
    const [alpha, beta] = [BUILDERS[0]!, BUILDERS[1]!];
    const a = await makeBundle({
      builder: alpha,
      outputs: { [`v${NAME_ATTACK}`]: `1\n${ATTACK}\n` },
      outputFiles: ['*'],
    });
    const b = await makeBundle({
      builder: beta,
      outputs: { [`v${NAME_ATTACK}`]: `2\n${ATTACK}\n` },
      outputFiles: ['*'],
    });
    const policy: TrustPolicy = await simulatedPolicy({
      minBuilders: 2,
      builders: [
        { name: `alpha${ATTACK}`, pcr3: builderPcr3(alpha) },
        { name: `beta${ATTACK}`, pcr3: builderPcr3(beta) },
      ],
    });
    const result: SetVerification = await verifyBundles(
      [
        { name: `a${ATTACK}.tar.gz`, source: a.bytes },
        { name: `b${ATTACK}.tar.gz`, source: b.bytes },
      ],
      policy,
      {
        now: VERIFIED_AT,
        compare: () => Promise.resolve(`diffoscope says\n${ATTACK}\n`),
      },
    );
    expect(result.bundles.every((x) => x.result.ok)).toBe(true);
    const md = verifySummary({
      from: `release ${ATTACK}`,
      result,
      failure: result.ok ? null : result.message,
      minBuilders: 2,
      assetChecks: [{ name: `asset${ATTACK}`, ok: false, note: ATTACK }],
      published: null,
      verifyCommand: ['npx tee-compile verify x.tar.gz'],
    });
    expect(md).not.toMatch(RAW);
    let fence: string | null = null;
    for (const line of md.split('\n')) {
      // Inside a fence (diffoscope's report, quoted line by line) or a code span Markdown and HTML
      // are inert; anywhere else no line starts with the attack and `<` is escaped.
      const open = /^(`{3,})text$/.exec(line);
      if (fence === null && open !== null) fence = open[1]!;
      else if (fence !== null && line === fence) fence = null;
      else if (fence === null) expect(line).not.toMatch(/^\s*(?:#+ ✔|✔)/);
      if (fence === null)
        expect(line.replace(/`[^`]*`/g, '')).not.toMatch(/(?<!\\)<(?!br>|\/?details>|\/?summary>)/);
    }
    expect(fence).toBeNull();
    expect(md).toContain('diffoscope says');
  });
});
