import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleEif, bytesSource, describeEif } from '../../src/eif/index.js';
import { runCli } from '../support/cli/cli.js';
import { TEST_METADATA, enc, rawEif, setCrc, soundSections } from '../support/nitro/eif-build.js';
import { makeSigningIdentity } from '../support/nitro/eif-signing.js';

let dir: string;
const path = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eif-cli-'));
  await writeFile(path('good.eif'), rawEif(soundSections()));
  await writeFile(path('badcrc.eif'), setCrc(rawEif(soundSections()), 1));
  await writeFile(path('badmagic.eif'), rawEif(soundSections(), { magic: enc('XXXX') }));
  const id = await makeSigningIdentity('ES384');
  await writeFile(
    path('signed.eif'),
    await assembleEif({
      kernel: enc('KERNEL'),
      cmdline: 'console=ttyS0',
      metadata: { ...TEST_METADATA, CustomMetadata: { zeta: 1, alpha: { b: 2, a: 1 } } },
      ramdisks: [enc('BOOT'), enc('APP')],
      signer: id.signer,
    }),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const PCR0 =
  'd2bf28888a2d15f0081faf38072aa6a5566e5c998bcb5d343f5d5221119c107d84b7e4a28cfe3701facc33676682e0e0';

describe('tee-compile eif describe', () => {
  it('when given a sound image with --json, it prints describe-eif JSON with its keys in order', async () => {
    const r = await runCli(['eif', 'describe', 'good.eif', '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(j)).toEqual([
      'EifVersion',
      'Measurements',
      'IsSigned',
      'CheckCRC',
      'ImageName',
      'ImageVersion',
      'Metadata',
    ]);
    expect(j['Measurements']).toEqual({
      HashAlgorithm: 'Sha384 { ... }',
      PCR0,
      PCR1: '37dbb4503ad1cdc8e4b5b7ae783d5a44b3dfbdbd31e3135160d8b6c4645c0cfa3bdbe93120a7be12f3245ad7c85be7a9',
      PCR2: '242e5ccf0b52a4b54de34b61970d957e6e4ee156b67a78ce2fed248960ff14f05456f94877f4652f10e9506aff4c9de6',
    });
    expect(j['EifVersion']).toBe(4);
    expect(j['IsSigned']).toBe(false);
    expect(j['CheckCRC']).toBe(true);
    expect(j['ImageName']).toBe('test-image');
    expect(Object.keys(j['Metadata'] as object)).toEqual([
      'BuildTime',
      'BuildTool',
      'BuildToolVersion',
      'OperatingSystem',
      'KernelVersion',
      'DockerInfo',
    ]);
    // serde_json::to_string_pretty layout
    expect(r.stdout).toMatch(
      /^\{\n {2}"EifVersion": 4,\n {2}"Measurements": \{\n {4}"HashAlgorithm"/,
    );
  });

  it('when given a signed image, it adds PCR8, SigningCertificate and SignatureCheck, custom metadata flattened', async () => {
    const r = await runCli(['eif', 'describe', path('signed.eif'), '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as {
      Measurements: Record<string, string>;
      IsSigned: boolean;
      SignatureCheck: boolean;
      SigningCertificate: { Algorithm: string };
      Metadata: Record<string, unknown>;
    };
    expect(Object.keys(j.Measurements)).toEqual(['HashAlgorithm', 'PCR0', 'PCR1', 'PCR2', 'PCR8']);
    expect(j.IsSigned).toBe(true);
    expect(j.SignatureCheck).toBe(true);
    expect(j.SigningCertificate.Algorithm).toBe('ecdsa-with-SHA384');
    expect(Object.keys(j.Metadata).slice(-2)).toEqual(['alpha', 'zeta']);
    expect(r.stdout).toContain('"alpha": {\n      "a": 1,\n      "b": 2\n    }');
  });

  it('when given a sound image without --json, it prints a readable summary with the PCRs', async () => {
    const r = await runCli(['eif', 'describe', 'good.eif'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`PCR0  ${PCR0}`);
    expect(r.stdout).toContain('Image:      test-image 1.0.0');
    expect(r.stdout).toContain('CRC:        ok');
    expect(r.stdout).toContain('Signed:     no');
  });

  it('when given a signed image without --json, the summary shows PCR8 and the signer', async () => {
    const r = await runCli(['eif', 'describe', path('signed.eif')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^PCR8 {2}[0-9a-f]{96}$/m);
    expect(r.stdout).toContain('Signed by:  commonName=tee-compile test signer');
    expect(r.stdout).toContain('Signature:  ok');
  });

  it('when the image is damaged, it exits 1 naming the code and what is wrong, printing nothing', async () => {
    const r = await runCli(['eif', 'describe', path('badmagic.eif'), '--json']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('[BAD_MAGIC]');
    expect(r.stderr).toContain('magic is 58585858');
  });

  it('when the CRC does not match, it exits 1; with --report-failed-checks it also prints CheckCRC false', async () => {
    const a = await runCli(['eif', 'describe', path('badcrc.eif'), '--json']);
    expect(a.code).toBe(1);
    expect(a.stdout).toBe('');
    expect(a.stderr).toContain('[CRC_MISMATCH]');
    const b = await runCli([
      'eif',
      'describe',
      path('badcrc.eif'),
      '--json',
      '--report-failed-checks',
    ]);
    expect(b.code).toBe(1);
    const j = JSON.parse(b.stdout) as { CheckCRC: boolean; Measurements: { PCR0: string } };
    expect(j.CheckCRC).toBe(false);
    expect(j.Measurements.PCR0).toBe(PCR0);
    expect(b.stderr).toContain('CheckCRC: false');
    const good = await describeEif(bytesSource(rawEif(soundSections())));
    expect(good.crc.ok).toBe(true);
  });

  it('when the file is missing or a directory, it exits 2 (I/O)', async () => {
    const a = await runCli(['eif', 'describe', path('nope.eif')]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('no such file');
    const b = await runCli(['eif', 'describe', dir]);
    expect(b.code).toBe(2);
  });

  it('when used wrongly, it exits 2 with usage', async () => {
    expect((await runCli(['eif'])).code).toBe(2);
    const h = await runCli(['eif', '--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('usage: tee-compile eif describe');
    const u = await runCli(['eif', 'frob']);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain("unknown subcommand 'frob'");
    expect((await runCli(['eif', 'describe'])).code).toBe(2);
    expect((await runCli(['eif', 'describe', 'a', 'b'])).code).toBe(2);
    expect((await runCli(['eif', 'describe', 'a', '--bogus'])).code).toBe(2);
  });
});
