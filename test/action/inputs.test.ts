import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import type { RunContext } from '../../src/action/context.js';
import { readRunContext } from '../../src/action/context.js';
import type { BuildInputs, VerifyInputs } from '../../src/action/inputs.js';
import { INPUT_DEFAULTS, parseInputs } from '../../src/action/inputs.js';
import { NONCE_PREFIX, deriveNonce } from '../../src/action/nonce.js';
import { artifactAssetNames, builderSlug, safeAssetName } from '../../src/action/naming.js';
import { tempDirSync } from '../support/temp.js';

const SHA = '3b18e512dba79e4c8300dd08aeb37f8e728b8dad';

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    GITHUB_REPOSITORY: 'Example/Hello',
    GITHUB_SHA: SHA,
    GITHUB_REF: 'refs/tags/v1.2.0',
    GITHUB_RUN_ID: '123',
    GITHUB_RUN_ATTEMPT: '2',
    GITHUB_WORKSPACE: '/w',
    RUNNER_TEMP: '/t',
    ...extra,
  };
}

function ctx(extra: NodeJS.ProcessEnv = {}): RunContext {
  return readRunContext(env(extra));
}

function parse(values: Record<string, string>, c: RunContext = ctx()) {
  return parseInputs((n) => values[n] ?? '', c);
}

/** Inputs and defaults declared in action.yml (its simple two-level layout). */
function actionYml(): { inputs: Map<string, string>; outputs: string[] } {
  const text = readFileSync(new URL('../../action.yml', import.meta.url), 'utf8');
  const inputs = new Map<string, string>();
  const outputs: string[] = [];
  let section = '';
  let current = '';
  for (const line of text.split('\n')) {
    const top = /^([a-z]+):/.exec(line);
    if (top) section = top[1]!;
    const key = /^ {2}([a-z0-9-]+):\s*$/.exec(line);
    if (key && section === 'inputs') inputs.set((current = key[1]!), '');
    if (key && section === 'outputs') outputs.push(key[1]!);
    const def = /^ {4}default:\s*(.*)$/.exec(line);
    if (def && section === 'inputs') inputs.set(current, def[1]!.replace(/^'(.*)'$/, '$1'));
  }
  return { inputs, outputs };
}

describe('inputs', () => {
  test('when nothing is given on a tag, it builds with the documented defaults', () => {
    const i = parse({ 'github-token': 't' }) as BuildInputs;
    expect(i.mode).toBe('build');
    expect(i.config).toBe('build.json');
    expect(i.agentUrl).toBe('http://127.0.0.1:8723');
    expect(i.upload).toBe('release');
    expect(i.release).toBe('v1.2.0');
    expect(i.checkName).toBe('attested build');
    expect(i.publish).toBe(false);
    expect(i.allowSimulated).toBe(false);
    expect(i.timeoutMs).toBe(180 * 60_000);
    expect(i.nonceDerived).toBe(true);
  });

  test('when config names a build.json in a subdirectory, it is accepted as a POSIX path from the root', () => {
    expect(
      (parse({ 'github-token': 't', config: './examples/cli/build.json' }) as BuildInputs).config,
    ).toBe('examples/cli/build.json');
    expect(
      (parse({ 'github-token': 't', config: 'tools\\gen\\tee.json' }) as BuildInputs).config,
    ).toBe('tools/gen/tee.json');
  });

  test('when the ref is a branch, it resolves upload auto to a workflow artifact', () => {
    const i = parse({ 'github-token': 't' }, ctx({ GITHUB_REF: 'refs/heads/main' })) as BuildInputs;
    expect(i.upload).toBe('artifact');
    expect(i.release).toBeNull();
  });

  /** Inputs action.yml describes as the EC2 modes' ("EC2 …"). */
  function ec2Inputs(): Set<string> {
    const y = readFileSync(new URL('../../action.yml', import.meta.url), 'utf8');
    const section = y.slice(y.indexOf('\ninputs:\n'), y.indexOf('\noutputs:\n'));
    return new Set(
      [...section.matchAll(/\n {2}([a-z0-9-]+):\n {4}description: '?EC2/g)].map((m) => m[1]!),
    );
  }

  test('when action.yml declares an input, it is parsed with the same default', () => {
    const { inputs, outputs } = actionYml();
    const asked = new Set<string>();
    parse({}, ctx({ GITHUB_REF: 'refs/heads/main' }));
    parseInputs((n) => {
      asked.add(n);
      return n === 'mode' ? 'verify' : n === 'artifacts' ? 'x-*' : '';
    }, ctx());
    parseInputs((n) => (asked.add(n), ''), ctx({ GITHUB_REF: 'refs/heads/main' }));
    // The EC2 modes (launch, stop, sweep) read their own inputs: test/ec2.
    const ec2 = ec2Inputs();
    for (const name of inputs.keys()) if (!ec2.has(name)) expect([...asked]).toContain(name);
    for (const name of asked) expect([...inputs.keys()]).toContain(name);
    for (const [name, def] of Object.entries(INPUT_DEFAULTS)) expect(inputs.get(name)).toBe(def);
    expect(outputs.sort()).toEqual(
      [
        'bundle',
        'pcr0',
        'provenance-sha256',
        'subjects',
        'verified',
        'code',
        'vsa',
        'vsa-sha256',
        'vsa-location',
        'label',
        'instance-id',
        'region',
      ].sort(),
    );
  });

  test('when docs/action.md lists the inputs and outputs, it lists exactly those of action.yml with their defaults', () => {
    const { inputs, outputs } = actionYml();
    const doc = readFileSync(new URL('../../docs/action.md', import.meta.url), 'utf8');
    const section = (title: string): string => doc.split(`## ${title}\n`)[1]!.split('\n## ')[0]!;
    const rows = (text: string) =>
      [...text.matchAll(/^\| `([a-z0-9-]+)` \| ([^|]*) \|/gm)].map(
        (m) => [m[1]!, m[2]!.trim()] as const,
      );
    const documented = new Map(rows(section('Inputs')));
    expect([...documented.keys()].sort()).toEqual([...inputs.keys()].sort());
    for (const [name, def] of documented) {
      const literal = /^`(.*)`$/.exec(def);
      if (literal !== null) expect(inputs.get(name)).toBe(literal[1]);
      else expect(def).toMatch(/^\(|^derived$|^the pushed tag$|^this one$/);
    }
    expect(
      rows(section('Outputs'))
        .map(([n]) => n)
        .sort(),
    ).toEqual([...outputs].sort());
  });

  test.each([
    ['mode', 'bild', 'expected one of build, verify'],
    ['upload', 'releases', 'expected one of auto, release, artifact, none'],
    ['allow-simulated', 'yes', 'expected true or false'],
    ['publish', '1', 'expected true or false'],
    ['timeout-minutes', '0', 'expected a whole number from 1 to'],
    ['timeout-minutes', '1.5', 'expected a whole number'],
    ['min-builders', '65', 'expected a whole number from 1 to 64'],
    ['nonce', 'abc', 'expected hex digits'],
    ['nonce', 'ab'.repeat(8 - 1), 'expected 16 to 64 bytes'],
    ['agent-url', 'ftp://host', 'expected an http(s) URL'],
    ['agent-url', 'http://user:pw@host', 'credentials do not belong in the URL'],
    ['config', '../build.json', 'expected a file path inside the repository'],
    ['config', '/etc/passwd', 'expected a file path inside the repository'],
    ['config', 'examples/../../build.json', 'expected a file path inside the repository'],
    ['config', 'examples/\nbuild.json', 'expected a file path inside the repository'],
    ['config', '.git/build.json', 'expected a file path inside the repository'],
    ['release', 'v1 .0', 'expected a tag name'],
    ['release', 'a..b', 'expected a tag name'],
    ['check-name', 'x'.repeat(101), 'at most 100 printable characters'],
    ['assets', '[', 'not a valid glob'],
  ])('when %s is %j, it is refused naming the input', (name, value, message) => {
    const values: Record<string, string> = { 'github-token': 't', [name]: value };
    if (name === 'assets') values.mode = 'verify';
    let err: unknown;
    try {
      parse(values);
    } catch (e) {
      err = e;
    }
    expect(err).toHaveCode('INPUT_INVALID');
    expect((err as Error).message).toContain(`input "${name}"`);
    expect((err as Error).message).toContain(message);
    expect((err as { path?: string }).path).toBe(name);
  });

  test('when upload is release on a branch, it is refused naming release', () => {
    expect(() =>
      parse({ upload: 'release', 'github-token': 't' }, ctx({ GITHUB_REF: 'refs/heads/main' })),
    ).toThrowWithCode('INPUT_INVALID', 'release');
  });

  test('when publish is asked without a release upload, it is refused naming publish', () => {
    expect(() =>
      parse({ upload: 'artifact', publish: 'true', 'github-token': 't' }),
    ).toThrowWithCode('INPUT_INVALID', 'publish');
  });

  test('when verify mode has neither a release nor artifacts, it is refused naming release', () => {
    expect(() => parse({ mode: 'verify' }, ctx({ GITHUB_REF: 'refs/heads/main' }))).toThrowWithCode(
      'INPUT_INVALID',
      'release',
    );
  });

  const ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
  const PEM = '-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n';

  test('when verify mode asks for a VSA, it takes exactly one key: PEM text or a KMS key ARN', () => {
    const base = { mode: 'verify', 'github-token': 't' };
    expect((parse(base) as VerifyInputs).vsa).toBeNull();
    expect((parse({ ...base, 'emit-vsa': 'true', 'vsa-key': PEM }) as VerifyInputs).vsa).toEqual({
      keyPem: PEM,
    });
    expect(
      (parse({ ...base, 'emit-vsa': 'true', 'vsa-kms-key': ARN }) as VerifyInputs).vsa,
    ).toEqual({ kmsKeyArn: ARN });
  });

  test.each([
    ['emit-vsa', { 'emit-vsa': 'true' }],
    ['emit-vsa', { 'emit-vsa': 'true', 'vsa-key': PEM, 'vsa-kms-key': ARN }],
    ['emit-vsa', { 'vsa-key': PEM }],
    ['vsa-key', { 'emit-vsa': 'true', 'vsa-key': 'not a key' }],
    ['vsa-kms-key', { 'emit-vsa': 'true', 'vsa-kms-key': 'alias/signer' }],
  ])('when the VSA inputs are inconsistent, it is refused naming %s', (name, values) => {
    let err: unknown;
    try {
      parse({ mode: 'verify', 'github-token': 't', ...values });
    } catch (e) {
      err = e;
    }
    expect(err).toHaveCode('INPUT_INVALID');
    expect((err as { path?: string }).path).toBe(name);
  });

  test('when verify mode names another repository, it reads the bundles from there', () => {
    const i = parse({
      mode: 'verify',
      repository: 'upstream/lib',
      release: 'v2.0.0',
      'github-token': 't',
    }) as VerifyInputs;
    expect(i.repository).toEqual({ owner: 'upstream', repo: 'lib' });
    expect(i.release).toBe('v2.0.0');
    expect(i.assets).toBe('*.bundle.tar.gz');
    expect(() =>
      parse({ mode: 'verify', repository: 'nope', 'github-token': 't' }),
    ).toThrowWithCode('INPUT_INVALID', 'repository');
  });

  test('when the protocol changes its nonce bounds, the action follows', async () => {
    const protocol = await import('../../src/protocol/index.js');
    const { MIN_NONCE_BYTES, MAX_NONCE_BYTES } = await import('../../src/action/inputs.js');
    expect([MIN_NONCE_BYTES, MAX_NONCE_BYTES]).toEqual([
      protocol.MIN_NONCE_BYTES,
      protocol.MAX_NONCE_BYTES,
    ]);
  });

  test('when a nonce is given, it is used as is (lower case) instead of the derived one', () => {
    const i = parse({
      nonce: '0xABCDEF0123456789ABCDEF0123456789',
      'github-token': 't',
    }) as BuildInputs;
    expect(i.nonce).toBe('abcdef0123456789abcdef0123456789');
    expect(i.nonceDerived).toBe(false);
  });
});

describe('run context', () => {
  test('when a variable the runner always sets is missing, it is refused naming it', () => {
    for (const name of ['GITHUB_REPOSITORY', 'GITHUB_SHA', 'GITHUB_RUN_ID']) {
      const e = env();
      delete e[name];
      expect(() => readRunContext(e)).toThrow(name);
    }
    expect(() => readRunContext(env({ GITHUB_SHA: 'abc' }))).toThrowWithCode(
      'INPUT_INVALID',
      'GITHUB_SHA',
    );
  });

  test('when the event is a pull request, it puts the check run on the head of the pull request', () => {
    const dir = tempDirSync('event-');
    const head = 'c'.repeat(40);
    writeFileSync(
      join(dir, 'e.json'),
      JSON.stringify({ pull_request: { number: 7, head: { sha: head } } }),
    );
    const c = ctx({
      GITHUB_EVENT_NAME: 'pull_request',
      GITHUB_EVENT_PATH: join(dir, 'e.json'),
      GITHUB_REF: 'refs/pull/7/merge',
    });
    expect(c.checkSha).toBe(head);
    expect(c.sha).toBe(SHA);
    expect(c.pullRequest).toBe(7);
    expect(c.tag).toBeNull();
  });
});

describe('nonce', () => {
  test('when derived, it is the documented SHA-256 of the versioned string', () => {
    const want = createHash('sha256')
      .update(`tee-compile/action/nonce/v1\nexample/hello\n123\n2`)
      .digest('hex');
    expect(NONCE_PREFIX).toBe('tee-compile/action/nonce/v1');
    expect(deriveNonce({ repository: 'Example/Hello', runId: '123', runAttempt: '2' })).toBe(want);
    expect((parse({ 'github-token': 't' }) as BuildInputs).nonce).toBe(want);
  });

  test('when the run attempt changes, it derives another nonce', () => {
    const a = deriveNonce({ repository: 'o/r', runId: '1', runAttempt: '1' });
    expect(deriveNonce({ repository: 'o/r', runId: '1', runAttempt: '2' })).not.toBe(a);
  });
});

describe('naming', () => {
  test('when artifacts share a file name, it names the assets after their whole paths', () => {
    const names = artifactAssetNames(['dist/a/index.js', 'dist/b/index.js', 'bin/tool']);
    expect(names.get('dist/a/index.js')).toBe('dist_a_index.js');
    expect(names.get('dist/b/index.js')).toBe('dist_b_index.js');
    expect(names.get('bin/tool')).toBe('tool');
  });

  test('when a name has characters GitHub would rewrite, it replaces them first', () => {
    expect(safeAssetName('my tool (x86).tar.gz')).toBe('my-tool--x86-.tar.gz');
    expect(safeAssetName('..hidden.')).toBe('hidden');
  });

  test('when the policy names the builder, it uses that name, else a PCR3 prefix', () => {
    expect(builderSlug({ builder: { name: 'Example Org', pcr3: 'ab'.repeat(48) } })).toBe(
      'Example-Org',
    );
    expect(builderSlug({ builder: { name: null, pcr3: 'ab'.repeat(48) } })).toBe(
      'pcr3-abababababab',
    );
  });
});
