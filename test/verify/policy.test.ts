import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { VerifyError } from '../../src/verify/errors.js';
import { buildTrustPolicy, parsePolicy } from '../../src/verify/policy.js';
import type { TrustedImage } from '../../src/verify/types.js';

const h = (c: string): string => c.repeat(96);

const DEFAULTS: TrustedImage[] = [
  {
    name: 'rust',
    version: '1.0.0',
    pcr0: null,
    pcr1: null,
    pcr2: null,
    simulated: { pcr0: h('a'), pcr1: h('b'), pcr2: h('c') },
  },
  {
    name: 'node',
    version: '1.0.0',
    pcr0: h('1'),
    pcr1: h('2'),
    pcr2: h('3'),
    simulated: { pcr0: h('4'), pcr1: h('5'), pcr2: h('6') },
  },
];

const ROLE = 'arn:aws:iam::123456789012:role/tee-compile-builder';

/** PCR3 as the AWS Nitro Enclaves User Guide computes it: SHA-384(48 zero bytes || role ARN). */
function awsPcr3(arn: string): string {
  return createHash('sha384').update(Buffer.alloc(48)).update(arn, 'utf8').digest('hex');
}

function parse(p: unknown, name?: string) {
  return parsePolicy(JSON.stringify(p), { defaultImages: DEFAULTS, ...(name ? { name } : {}) });
}

function refusal(fn: () => unknown): VerifyError {
  try {
    fn();
  } catch (e) {
    if (e instanceof VerifyError) return e;
    throw e;
  }
  throw new Error('nothing was thrown');
}

describe('parsePolicy', () => {
  it('when the file is empty ({}), it trusts the published images, any builder, k = 1, nothing simulated or debug', () => {
    const p = parse({});
    expect(p.images).toEqual(DEFAULTS);
    expect(p.builders).toBeUndefined();
    expect(p.minBuilders).toBe(1);
    expect(p.allowSimulated).toBe(false);
    expect(p.allowDebug).toBe(false);
  });

  it('when a builder is named by its IAM role, it computes PCR3 exactly as AWS does', () => {
    const p = parse({ builders: [{ name: 'acme', iamRole: ROLE }] });
    expect(p.builders).toEqual([{ name: 'acme', pcr3: awsPcr3(ROLE) }]);
  });

  it('when a role has a path, the path is part of what is measured', () => {
    const withPath = 'arn:aws:iam::123456789012:role/ci/builders/tee';
    const p = parse({ builders: [{ name: 'acme', iamRole: withPath }] });
    expect(p.builders![0]!.pcr3).toBe(awsPcr3(withPath));
    expect(p.builders![0]!.pcr3).not.toBe(awsPcr3('arn:aws:iam::123456789012:role/tee'));
  });

  it('when a builder is named by PCR3, it keeps it (lower case)', () => {
    const p = parse({ builders: [{ name: 'x', pcr3: 'AB'.repeat(48) }] });
    expect(p.builders).toEqual([{ name: 'x', pcr3: 'ab'.repeat(48) }]);
  });

  it('when an iamRole is not a role ARN, the message names the file, the field and the expected form', () => {
    const e = refusal(() =>
      parse({
        builders: [
          { name: 'a', iamRole: ROLE },
          { name: 'b', iamRole: 'tee-builder' },
        ],
      }),
    );
    expect(e).toHaveCode('POLICY_INVALID');
    expect(e.path).toBe('builders.1.iamRole');
  });

  it('when an iamRole is an instance profile or an assumed-role ARN, it explains which ARN AWS measures', () => {
    const ip = refusal(() =>
      parse({ builders: [{ name: 'a', iamRole: 'arn:aws:iam::123456789012:instance-profile/x' }] }),
    );
    expect(ip.message).toMatch(/builders\.0\.iamRole: this is an instance profile ARN/);
    const sts = refusal(() =>
      parse({
        builders: [{ name: 'a', iamRole: 'arn:aws:sts::123456789012:assumed-role/x/i-0123' }],
      }),
    );
    expect(sts.message).toMatch(/assumed-role ARN/);
  });

  it.each([
    [
      'images.0.pcr0',
      'not hex',
      { images: [{ name: 'x', version: '1', pcr0: 'zz', pcr1: h('0'), pcr2: h('0') }] },
      /96 hex digits/,
    ],
    [
      'images.0.pcr0',
      'missing',
      { images: [{ name: 'x', version: '1', pcr1: h('0'), pcr2: h('0') }] },
      /required/,
    ],
    ['images', 'empty', { images: [] }, /at least one image/],
    [
      'builders.0',
      'without iamRole or pcr3',
      { builders: [{ name: 'x' }] },
      /"iamRole"\} or \{"name", "pcr3"\}/,
    ],
    [
      'builders.0',
      'with both iamRole and pcr3',
      { builders: [{ name: 'x', iamRole: ROLE, pcr3: h('0') }] },
      /expected a builder/,
    ],
    [
      'builders.1',
      'the same PCR3 as builder 0',
      {
        builders: [
          { name: 'a', iamRole: ROLE },
          { name: 'b', pcr3: awsPcr3(ROLE) },
        ],
      },
      /repeats builder 0/,
    ],
    ['minBuilders', '0', { minBuilders: 0 }, /at least 1/],
    ['minBuilders', '1.5', { minBuilders: 1.5 }, /whole number/],
    ['minBuilders', 'a string', { minBuilders: '2' }, /whole number/],
    [
      'minBuilders',
      'more than the builders listed',
      { builders: [{ name: 'a', iamRole: ROLE }], minBuilders: 2 },
      /only 1 are trusted/,
    ],
    ['maxAgeSeconds', 'negative', { maxAgeSeconds: -1 }, /positive/],
    ['allowSimualted', 'a misspelt field', { allowSimualted: true }, /unknown field/],
    ['source.commit', 'abbreviated', { source: { commit: 'abc1234' } }, /full commit id/],
    ['source.repository', 'not a URL', { source: { repository: 'not a url' } }, /repository URL/],
    ['pcrs.32', 'out of range', { pcrs: { '32': h('0') } }, /0-31/],
  ])('when %s is %s, it refuses naming the file and the field', (path, _what, p, message) => {
    const e = refusal(() => parse(p, 'my-policy.json'));
    expect(e).toHaveCode('POLICY_INVALID');
    expect(e.path).toBe(path);
    expect(e.message.startsWith(`my-policy.json: ${path}: `)).toBe(true);
    expect(e.message).toMatch(message);
  });

  it('when the file is not JSON, not UTF-8 or not an object, it refuses with POLICY_INVALID', () => {
    expect(() => parsePolicy('{', { defaultImages: DEFAULTS })).toThrowWithCode('POLICY_INVALID');
    expect(() =>
      parsePolicy(new Uint8Array([0x7b, 0xff, 0x7d]), { defaultImages: DEFAULTS }),
    ).toThrowWithCode('POLICY_INVALID');
    expect(() => parsePolicy('[]', { defaultImages: DEFAULTS })).toThrowWithCode('POLICY_INVALID');
  });

  it('when the file lists images, it trusts only those, with the simulated measurements of the published image of the same name and version', () => {
    const p = parse({
      images: [
        { name: 'node', version: '1.0.0', pcr0: h('1'), pcr1: h('2'), pcr2: h('3') },
        { name: 'custom', version: '9', pcr0: h('7'), pcr1: h('8'), pcr2: h('9') },
      ],
    });
    expect(p.images).toEqual([
      {
        name: 'node',
        version: '1.0.0',
        pcr0: h('1'),
        pcr1: h('2'),
        pcr2: h('3'),
        simulated: DEFAULTS[1]!.simulated,
      },
      { name: 'custom', version: '9', pcr0: h('7'), pcr1: h('8'), pcr2: h('9') },
    ]);
  });

  it('when the file gives everything, it builds the whole typed policy', () => {
    const commit = 'A'.repeat(40);
    const p = parse({
      $schema: '../schemas/policy.schema.json',
      builders: [
        { name: 'a', iamRole: ROLE },
        { name: 'b', pcr3: h('e') },
      ],
      minBuilders: 2,
      maxAgeSeconds: 3600,
      allowDebug: true,
      allowSimulated: true,
      source: { repository: 'git@github.com:Owner/Repo.git', commit },
      pcrs: { '4': h('F') },
    });
    expect(p).toMatchObject({
      minBuilders: 2,
      maxAgeSeconds: 3600,
      allowDebug: true,
      allowSimulated: true,
      source: { repository: 'https://github.com/Owner/Repo', commit: 'a'.repeat(40) },
    });
    expect(p.pcrs).toEqual(new Map([[4, h('f')]]));
  });
});

describe('buildTrustPolicy', () => {
  const file = {
    text: JSON.stringify({
      builders: [
        { name: 'a', iamRole: ROLE },
        { name: 'b', pcr3: h('e') },
      ],
      source: { commit: 'b'.repeat(40), repository: 'https://github.com/o/r' },
      pcrs: { '4': h('1'), '8': h('2') },
    }),
    name: 'p.json',
  };

  it('when there is no file, it trusts the published images and takes the flags', () => {
    const p = buildTrustPolicy({
      defaultImages: DEFAULTS,
      flags: { nonce: '0x' + 'AB'.repeat(16), allowSimulated: true, pcrs: ['4=' + h('9')] },
    });
    expect(p.images).toEqual(DEFAULTS);
    expect(p.nonce).toBe('ab'.repeat(16));
    expect(p.allowSimulated).toBe(true);
    expect(p.pcrs).toEqual(new Map([[4, h('9')]]));
  });

  it('when flags and a file are given, flags override the source and k, extend the PCRs, and only turn allow flags on', () => {
    const p = buildTrustPolicy({
      defaultImages: DEFAULTS,
      file,
      flags: {
        commit: 'C'.repeat(64),
        pcrs: [`8=${h('3')}`, `12=${h('4')}`],
        minBuilders: '2',
        allowDebug: false,
      },
    });
    expect(p.source).toEqual({ commit: 'c'.repeat(64), repository: 'https://github.com/o/r' });
    expect(p.pcrs).toEqual(
      new Map([
        [4, h('1')],
        [8, h('3')],
        [12, h('4')],
      ]),
    );
    expect(p.minBuilders).toBe(2);
    expect(p.allowDebug).toBe(false);
    const q = buildTrustPolicy({
      defaultImages: DEFAULTS,
      file,
      flags: { repository: 'github.com/x/y' },
    });
    expect(q.source).toEqual({ commit: 'b'.repeat(40), repository: 'https://github.com/x/y' });
  });

  it.each([
    ['--nonce', 'not hex', { nonce: 'xyz' }],
    ['--nonce', 'an odd number of digits', { nonce: 'abc' }],
    ['--nonce', 'longer than 64 bytes', { nonce: 'ab'.repeat(65) }],
    ['--nonce', 'shorter than 16 bytes', { nonce: 'ab'.repeat(15) }],
    ['--commit', 'abbreviated', { commit: 'abc1234' }],
    ['--repo', 'not a URL', { repository: 'nope' }],
    ['--pcr', 'without =', { pcrs: ['4'] }],
    ['--pcr', 'index 40', { pcrs: ['40=' + h('0')] }],
    ['--pcr', 'short value', { pcrs: ['4=abcd'] }],
    ['--min-builders', 'not a number', { minBuilders: 'two' }],
    ['--min-builders', 'more than the trusted builders', { minBuilders: 3 }],
  ])('when %s is %s, the message names the flag', (flag, _what, flags) => {
    const e = refusal(() => buildTrustPolicy({ defaultImages: DEFAULTS, file, flags }));
    expect(e).toHaveCode('POLICY_INVALID');
    expect(e.message.startsWith(`${flag}: `)).toBe(true);
  });
});
