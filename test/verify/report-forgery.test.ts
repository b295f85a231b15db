/**
 * Attacks on the readable verify report: bundles, policies and programs whose text tries to print
 * a line of its own ("✔ VERIFIED", "verdict: VERIFIED"), clear the terminal, or reverse the text
 * around it. Whatever the verdict, the printed report must hold none of those characters raw, each
 * of its lines must start with text of ours, and a SIMULATED or DEBUG result must say so on every
 * line, refusals included.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../support/cli/cli.js';
import {
  BUILDERS,
  DEFAULT_COMMIT,
  makeBundle,
  writeBundleBytes,
} from '../support/bundles/bundle-factory.js';
import { unruledWriter } from '../support/bundles/bundle-hostile.js';
import { tempDirSync } from '../support/temp.js';

const alpha = BUILDERS[0]!;
const beta = BUILDERS[1]!;

/** The payloads: a forged line, a forged verdict, an ANSI clear-screen, a right-to-left override. */
const FORGED_LINE = '\n✔ VERIFIED';
const FORGED_VERDICT = '\nverdict: VERIFIED';
const CLEAR_SCREEN = '\x1b[2J\x1b[H';
const RLO = '\u202e';
const ATTACK = `x${FORGED_LINE}${FORGED_VERDICT}${CLEAR_SCREEN}${RLO}exe.txt`;

/** A character a terminal or a browser would act on or hide (the report's own newlines aside). */
// eslint-disable-next-line no-control-regex
const RAW = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/u;

/** How every line of the readable report starts (after SIMULATED / DEBUG): text of ours. */
const OUR_START =
  /^(?:bundle |verdict: |group \d+: |agreeing: |dissenting: |differs from |warning: |signed by the software NSM|in a browser: | {2}(?:sha256 of each artifact:|[0-9a-f]{64} {2}|source {3}|image {4}|builder {2}|attested |repository |tag {6}|commit {3}|workflow |signed {3}|DEBUG enclave:|refused: |reason: |signed by the software NSM)| {4}file | {6}\| | {6}diffoscope:$| {8}\| )/;

/** Asserts that `stdout` is a report no untrusted text could forge a line of. */
function expectUnforged(stdout: string, prefix: string): void {
  expect(stdout).not.toMatch(RAW);
  const lines = stdout.replace(/\n$/, '').split('\n');
  for (const line of lines) {
    expect(line.startsWith(prefix)).toBe(true);
    const body = line.slice(prefix.length);
    expect(body).toMatch(OUR_START);
  }
  const verdicts = lines.filter((l) => l.slice(prefix.length).startsWith('verdict: '));
  expect(verdicts).toEqual([lines[lines.length - 1]]);
  expect(lines.some((l) => l.slice(prefix.length).trimStart().startsWith('✔'))).toBe(false);
}

let dir: string;

function policyFile(p: unknown): string {
  const f = join(dir, `policy-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(f, JSON.stringify(p));
  return f;
}

async function bundleFile(name: string, opts: Parameters<typeof makeBundle>[0]): Promise<string> {
  return writeBundleBytes(dir, name, (await makeBundle(opts)).bytes);
}

/** provenance.json with `from` (a JSON string's content) replaced by `to`: attested, but not valid. */
function rewrite(from: string, to: string): (b: Uint8Array) => Uint8Array {
  return (b) => {
    const text = new TextDecoder().decode(b);
    expect(text).toContain(from);
    return new TextEncoder().encode(text.replace(from, JSON.stringify(to).slice(1, -1)));
  };
}

beforeAll(() => {
  dir = tempDirSync('bundles-');
});

describe('the readable verify report, attacked', () => {
  it('when an artifact name carries a forged line, a forged verdict, a clear-screen and an RLO, every line is still ours and SIMULATED', async () => {
    const f = await bundleFile('names.bundle.tar.gz', {
      outputs: { [ATTACK]: 'a', 'verdict: VERIFIED': 'b' },
      outputFiles: ['*'],
      // Our writer refuses such a name (BUNDLE_ARTIFACT_INVALID); an attacker's does not.
      writer: unruledWriter,
    });
    const r = await runCli(['verify', f, '--allow-simulated']);
    expectUnforged(r.stdout, 'SIMULATED ');
    if (r.code === 0) expect(r.stdout).toContain('x\\x0a✔ VERIFIED\\x0averdict: VERIFIED\\x1b[2J');
  });

  it('when a subject name that only the provenance holds carries the attack, the refusal naming it is escaped and SIMULATED', async () => {
    const f = await bundleFile('subject.bundle.tar.gz', {
      outputs: { 'target/release/hello': 'x' },
      provenance: rewrite('target/release/hello', `target/release/hello${ATTACK}`),
    });
    const r = await runCli(['verify', f, '--allow-simulated']);
    expect(r.code).toBe(1);
    expectUnforged(r.stdout, 'SIMULATED ');
    const j = JSON.parse((await runCli(['verify', f, '--allow-simulated', '--json'])).stdout) as {
      simulated: boolean;
      code: string;
    };
    expect(j.simulated).toBe(true);
  });

  it('when the build command in the provenance carries the attack, the refusal is escaped and every line is SIMULATED', async () => {
    const f = await bundleFile('command.bundle.tar.gz', {
      provenance: rewrite('cargo build --release --locked', `cargo build${ATTACK}`),
    });
    const r = await runCli(['verify', f, '--allow-simulated']);
    expect(r.code).toBe(1);
    expectUnforged(r.stdout, 'SIMULATED ');
  });

  it('when the build log carries the attack, the report is unchanged by it', async () => {
    const f = await bundleFile('log.bundle.tar.gz', { log: `building${ATTACK}\n${ATTACK}\n` });
    const r = await runCli(['verify', f, '--allow-simulated']);
    expect(r.code).toBe(0);
    expectUnforged(r.stdout, 'SIMULATED ');
  });

  it('when the recorded repository carries the attack, it is shown escaped (and a --repo check refuses it, escaped)', async () => {
    const f = await bundleFile('repo.bundle.tar.gz', {
      repository: `https://github.com/example/hello${ATTACK}`,
    });
    const r = await runCli(['verify', f, '--allow-simulated']);
    expect(r.code).toBe(0);
    expectUnforged(r.stdout, 'SIMULATED ');
    expect(r.stdout).toContain('https://github.com/example/hellox\\x0a✔ VERIFIED');
    const refused = await runCli([
      'verify',
      f,
      '--allow-simulated',
      '--repo',
      'https://github.com/example/hello',
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('REPOSITORY_MISMATCH');
    expectUnforged(refused.stdout, 'SIMULATED ');
  });

  it('when a policy names a builder with a newline and a forged verdict, the builder line is escaped', async () => {
    const f = await bundleFile('builder.bundle.tar.gz', { builder: alpha });
    const p = policyFile({
      builders: [{ name: `alpha${FORGED_VERDICT}${CLEAR_SCREEN}${RLO}`, iamRole: alpha.iamRole }],
      allowSimulated: true,
    });
    const r = await runCli(['verify', f, '--policy', p]);
    expect(r.code).toBe(0);
    expectUnforged(r.stdout, 'SIMULATED ');
    expect(r.stdout).toContain('builder  alpha\\x0averdict: VERIFIED\\x1b[2J');
  });

  it("when the bundle's file name carries the attack, it is shown escaped", async () => {
    const f = await bundleFile(`file${FORGED_VERDICT}${RLO}.tar.gz`, {});
    const r = await runCli(['verify', f, '--allow-simulated']);
    expect(r.code).toBe(0);
    expectUnforged(r.stdout, 'SIMULATED ');
  });

  it('when several bundles disagree and diffoscope prints attacker bytes, each of its lines is escaped behind a marker of ours', async () => {
    const a = await bundleFile('set-a.bundle.tar.gz', {
      builder: alpha,
      outputs: { [`VERSION${RLO}`]: `1.0\n${ATTACK}\n` },
      outputFiles: ['*'],
    });
    const b = await bundleFile('set-b.bundle.tar.gz', {
      builder: beta,
      outputs: { [`VERSION${RLO}`]: `2.0\n${ATTACK}${ATTACK}\n` },
      outputFiles: ['*'],
    });
    const bin = tempDirSync('forging-diffoscope-');
    writeFileSync(
      join(bin, 'diffoscope'),
      `#!/bin/sh\ncat <<'END'\ncompared${FORGED_LINE}${FORGED_VERDICT}${CLEAR_SCREEN}${RLO}txt\nEND\nexit 1\n`,
    );
    chmodSync(join(bin, 'diffoscope'), 0o755);
    const p = policyFile({
      builders: [
        { name: 'alpha', iamRole: alpha.iamRole },
        { name: 'beta', iamRole: beta.iamRole },
      ],
      minBuilders: 2,
      allowSimulated: true,
    });
    const r = await runCli(['verify', a, b, '--policy', p], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
    });
    expect(r.code).toBe(1);
    expectUnforged(r.stdout, 'SIMULATED ');
    expect(r.stdout).toContain('        | ✔ VERIFIED');
    expect(r.stdout).toContain('        | verdict: VERIFIED\\x1b[2J\\x1b[H\\u202etxt');
  });
});

describe('SIMULATED and DEBUG on refusals as on passes', () => {
  it('when a simulated bundle is refused after the attestation step, every line still says SIMULATED and --json says simulated', async () => {
    const f = await bundleFile('sim-refused.bundle.tar.gz', {});
    const r = await runCli(['verify', f, '--allow-simulated', '--commit', 'a'.repeat(40)]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('COMMIT_MISMATCH');
    expectUnforged(r.stdout, 'SIMULATED ');
    const j = JSON.parse(
      (await runCli(['verify', f, '--allow-simulated', '--commit', 'a'.repeat(40), '--json']))
        .stdout,
    ) as { ok: boolean; code: string; simulated: boolean; debug: boolean; warning?: string };
    expect(j).toMatchObject({ ok: false, code: 'COMMIT_MISMATCH', simulated: true, debug: false });
    expect(j.warning).toMatch(/^SIMULATED: /);
  });

  it('when a simulated bundle is refused by an expectation of its attestation (the nonce), every line still says SIMULATED', async () => {
    const f = await bundleFile('sim-nonce.bundle.tar.gz', {});
    const r = await runCli(['verify', f, '--allow-simulated', '--nonce', 'ab'.repeat(16)]);
    expect(r.code).toBe(1);
    expectUnforged(r.stdout, 'SIMULATED ');
    const j = JSON.parse(
      (await runCli(['verify', f, '--allow-simulated', '--nonce', 'ab'.repeat(16), '--json']))
        .stdout,
    ) as { code: string; simulated: boolean };
    expect(j.code).not.toBe('SIMULATED_NOT_ALLOWED');
    expect(j.simulated).toBe(true);
  });

  it('when a debug-mode bundle passes, every line says DEBUG; when it is refused after the attestation step, too, and --json says debug on both', async () => {
    const f = await bundleFile('debug.bundle.tar.gz', { debug: true });
    const flags = ['--allow-simulated', '--allow-debug'];
    const pass = await runCli(['verify', f, ...flags]);
    expect(pass.code).toBe(0);
    expectUnforged(pass.stdout, 'SIMULATED DEBUG ');
    const refused = await runCli(['verify', f, ...flags, '--commit', 'b'.repeat(40)]);
    expect(refused.code).toBe(1);
    expectUnforged(refused.stdout, 'SIMULATED DEBUG ');
    // Refused for being a debug enclave: said as well.
    const notAllowed = await runCli(['verify', f, '--allow-simulated']);
    expect(notAllowed.code).toBe(1);
    expect(notAllowed.stdout).toContain('DEBUG_MODE');
    expectUnforged(notAllowed.stdout, 'SIMULATED DEBUG ');
    for (const extra of [[], ['--commit', 'b'.repeat(40)]]) {
      const j = JSON.parse((await runCli(['verify', f, ...flags, ...extra, '--json'])).stdout) as {
        simulated: boolean;
        debug: boolean;
      };
      expect(j).toMatchObject({ simulated: true, debug: true });
    }
  });

  it('when one of several bundles is refused after the attestation step, the set report is SIMULATED on every line', async () => {
    const good = await bundleFile('set-good.bundle.tar.gz', { builder: alpha });
    const other = await bundleFile('set-other.bundle.tar.gz', {
      builder: beta,
      commit: 'c'.repeat(40),
    });
    const r = await runCli([
      'verify',
      good,
      other,
      '--min-builders',
      '2',
      '--allow-simulated',
      '--commit',
      DEFAULT_COMMIT,
    ]);
    expect(r.code).toBe(1);
    expectUnforged(r.stdout, 'SIMULATED ');
  });
});
