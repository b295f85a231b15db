import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MAX_DOCUMENT_BYTES,
  NsmClient,
  SIMULATION_ROOT,
  SoftwareNsm,
  decodeAttestation,
} from '../../src/attestation/index.js';
import { derToPem } from '../../src/cose/index.js';
import { toHex } from '../../src/util/hex.js';
import { runCli } from '../support/cli/cli.js';
import { NITRO_DIR, genuine, leafNotAfterMs } from '../support/attestation/attestation-fixtures.js';
import { tempDirSync } from '../support/temp.js';

const PKI = join(NITRO_DIR, '..', 'pki');
const doc = (f: string): string => join(NITRO_DIR, f);
const verify = (...args: string[]): ReturnType<typeof runCli> =>
  runCli(['attestation', 'verify', ...args]);

function json(s: string): Record<string, unknown> {
  return JSON.parse(s) as Record<string, unknown>;
}

describe('tee-compile attestation (usage)', () => {
  it('when asked for --help, it prints both commands and exits 0', async () => {
    const r = await runCli(['attestation', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('tee-compile attestation verify <doc.cbor>');
    expect(r.stdout).toContain('tee-compile attestation inspect <doc.cbor> [--json]');
  });

  it('when asked for verify --help, it prints the usage and exits 0', async () => {
    const r = await verify('--help');
    expect([r.code, r.stdout.includes('--allow-debug')]).toEqual([0, true]);
  });

  it('when given no sub-command, it prints the usage and exits 2', async () => {
    expect((await runCli(['attestation'])).code).toBe(2);
  });

  it('when given an unknown sub-command, it names it and exits 2', async () => {
    const r = await runCli(['attestation', 'sign', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown sub-command 'sign'");
  });

  it('when given an unknown flag, it exits 2', async () => {
    expect((await verify(doc('doc-anjuna-1.cbor'), '--frobnicate')).code).toBe(2);
  });

  it('when given two documents, it exits 2', async () => {
    expect((await verify(doc('doc-anjuna-1.cbor'), doc('doc-anjuna-2.cbor'))).code).toBe(2);
  });

  it('when the document does not exist, it says so and exits 2', async () => {
    const r = await verify(doc('no-such.cbor'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot read');
  });

  it('when the document is a directory, it says so and exits 2', async () => {
    const r = await verify(NITRO_DIR);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('not a regular file');
  });
});

describe('tee-compile attestation (a file larger than any document)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'attestation-cli-'));
    // One byte over the limit: a genuine document with a byte appended.
    const genuineBytes = readFileSync(doc('doc-anjuna-1.cbor'));
    writeFileSync(
      join(dir, 'over.cbor'),
      Buffer.concat([genuineBytes, Buffer.alloc(MAX_DOCUMENT_BYTES + 1 - genuineBytes.length)]),
    );
    // 3 GiB (sparse): more than Node can read into one buffer, so only a bounded read gets to
    // the document's own refusal; reading it whole would fail as an I/O error.
    writeFileSync(join(dir, 'huge.cbor'), '');
    truncateSync(join(dir, 'huge.cbor'), 3 * 1024 ** 3);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('when verified, it is refused with CBOR_LIMIT_EXCEEDED at document (exit 1) without being read', async () => {
    for (const [f, size] of [
      ['over.cbor', MAX_DOCUMENT_BYTES + 1],
      ['huge.cbor', 3 * 1024 ** 3],
    ] as const) {
      const r = await runCli(['attestation', 'verify', f, '--json'], { cwd: dir });
      expect([f, r.code, json(r.stdout)]).toEqual([
        f,
        1,
        {
          ok: false,
          code: 'CBOR_LIMIT_EXCEEDED',
          message: `the document is ${size} bytes; the limit is ${MAX_DOCUMENT_BYTES}`,
          path: 'document',
        },
      ]);
      const text = await runCli(['attestation', 'verify', f], { cwd: dir });
      expect([text.code, text.stdout.split('\n')[0]]).toEqual([
        1,
        'REFUSED CBOR_LIMIT_EXCEEDED at document',
      ]);
    }
  });

  it('when inspected, it cannot be decoded: exit 2 with CBOR_LIMIT_EXCEEDED', async () => {
    for (const f of ['over.cbor', 'huge.cbor']) {
      const r = await runCli(['attestation', 'inspect', f], { cwd: dir });
      expect([f, r.code]).toEqual([f, 2]);
      expect(r.stderr).toContain(`cannot decode ${f}: CBOR_LIMIT_EXCEEDED at document`);
    }
  });
});

describe('tee-compile attestation verify', () => {
  it('when the document is genuine, it prints VALID with the module and exits 0', async () => {
    const r = await verify(doc('doc-anjuna-1.cbor'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^VALID {2}trust anchor aws-nitro-root-g1/);
    expect(r.stdout).toContain('i-078824548edcf6519-enc01784234ec227b58');
  });

  it('when --json is given, it prints one object with the documented fields', async () => {
    const { facts } = genuine('doc-cape-2.cbor');
    const r = await verify(doc('doc-cape-2.cbor'), '--json');
    expect(r.code).toBe(0);
    const o = json(r.stdout);
    expect(Object.keys(o)).toEqual([
      'ok',
      'moduleId',
      'timestamp',
      'digest',
      'pcrs',
      'debug',
      'userData',
      'nonce',
      'publicKey',
      'trustAnchor',
    ]);
    expect(o).toMatchObject({
      ok: true,
      moduleId: facts.module_id,
      timestamp: facts.timestamp,
      digest: 'SHA384',
      debug: false,
    });
    const pcrs = o.pcrs as Record<string, string>;
    expect(Object.keys(pcrs)).toEqual(facts.pcr_indices.map(String));
    expect(pcrs['0']).toBe(facts.pcrs_nonzero_hex['0']);
    expect(o.nonce).toBe(facts.nonce.hex);
  });

  it('when a field is null, --json prints null', async () => {
    const o = json((await verify(doc('doc-anjuna-1.cbor'), '--json')).stdout);
    expect([o.userData, o.nonce, o.publicKey]).toEqual([null, null, null]);
  });

  it('when the document is in debug mode, it is refused (exit 1) unless --allow-debug', async () => {
    const refused = await verify(doc('doc-cape-1.cbor'), '--json');
    expect(refused.code).toBe(1);
    expect(json(refused.stdout)).toMatchObject({ ok: false, code: 'DEBUG_MODE' });
    const allowed = await verify(doc('doc-cape-1.cbor'), '--allow-debug', '--json');
    expect(allowed.code).toBe(0);
    expect(json(allowed.stdout).debug).toBe(true);
  });

  it('when refused without --json, it prints REFUSED, the code, the path and the message', async () => {
    const r = await verify(doc('neg-eternis-invalid-1.cbor'), '--allow-debug');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^REFUSED SIGNATURE_INVALID at signature\n {2}the document signature does not verify/,
    );
  });

  it('when refused with --json, it prints ok:false, the code and the message', async () => {
    const r = await verify(doc('neg-base-nitro-validator-1-as-committed.cbor'), '--json');
    expect(r.code).toBe(1);
    const o = json(r.stdout);
    expect(o).toMatchObject({ ok: false, code: 'CBOR_MALFORMED' });
    expect(typeof o.message).toBe('string');
  });

  it('when --at is past the leaf expiry (ISO or epoch ms), it is refused with CERT_EXPIRED', async () => {
    const { facts } = genuine('doc-anjuna-1.cbor');
    const t = leafNotAfterMs(facts) + 60_000;
    for (const at of [new Date(t).toISOString(), String(t)]) {
      const r = await verify(doc('doc-anjuna-1.cbor'), '--at', at, '--json');
      expect([r.code, json(r.stdout).code]).toEqual([1, 'CERT_EXPIRED']);
    }
  });

  it('when --at is inside the leaf validity, it is accepted', async () => {
    expect((await verify(doc('doc-anjuna-1.cbor'), '--at', '2021-03-17T23:00:00Z')).code).toBe(0);
  });

  it.each([['yesterday'], ['2021-13-01T00:00:00Z'], ['-5'], ['2021-03-17 23:00']])(
    'when --at is %s, it names the flag and exits 2',
    async (at) => {
      const r = await verify(doc('doc-anjuna-1.cbor'), '--at', at);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--at');
    },
  );

  it('when --pcr values match, it is accepted; when one differs, it is refused with PCR_MISMATCH', async () => {
    const { facts } = genuine('doc-cape-2.cbor');
    const p0 = facts.pcrs_nonzero_hex['0']!;
    const p8 = facts.pcrs_nonzero_hex['8']!;
    expect(
      (await verify(doc('doc-cape-2.cbor'), '--pcr', `0=${p0}`, '--pcr', `8=${p8}`)).code,
    ).toBe(0);
    const r = await verify(
      doc('doc-cape-2.cbor'),
      '--pcr',
      `0=${p0}`,
      '--pcr',
      `8=${p0}`,
      '--json',
    );
    expect([r.code, json(r.stdout).code, json(r.stdout).path]).toEqual([
      1,
      'PCR_MISMATCH',
      'payload.pcrs.8',
    ]);
  });

  it.each([['32=00'], ['0='], ['0=xyz'], ['a=00'], ['0=abc']])(
    'when --pcr is %s, it names the flag and exits 2',
    async (v) => {
      const r = await verify(doc('doc-anjuna-1.cbor'), '--pcr', v);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--pcr');
    },
  );

  it('when --nonce, --user-data and --public-key match, it is accepted', async () => {
    const d = decodeAttestation(genuine('doc-cape-2.cbor').bytes);
    const r = await verify(
      doc('doc-cape-2.cbor'),
      '--nonce',
      toHex(d.nonce!),
      '--user-data',
      toHex(d.userData!),
      '--public-key',
      toHex(d.publicKey!),
    );
    expect(r.code).toBe(0);
  });

  it.each([
    ['--nonce', 'NONCE_MISMATCH'],
    ['--user-data', 'USER_DATA_MISMATCH'],
    ['--public-key', 'PUBLIC_KEY_MISMATCH'],
  ])('when %s differs, it is refused with %s', async (flag, code) => {
    const r = await verify(doc('doc-cape-2.cbor'), flag, '00ff', '--json');
    expect([r.code, json(r.stdout).code]).toEqual([1, code]);
  });

  it('when --nonce is not hex, it names the flag and exits 2', async () => {
    const r = await verify(doc('doc-cape-2.cbor'), '--nonce', 'nonce');
    expect([r.code, r.stderr.includes('--nonce')]).toEqual([2, true]);
  });

  it('when --max-age is shorter than the age of a stored document, it is refused with DOCUMENT_TOO_OLD', async () => {
    const r = await verify(doc('doc-anjuna-1.cbor'), '--max-age', '300', '--json');
    expect([r.code, json(r.stdout).code]).toEqual([1, 'DOCUMENT_TOO_OLD']);
  });

  it('when --max-age is not a number of seconds, it names the flag and exits 2', async () => {
    const r = await verify(doc('doc-anjuna-1.cbor'), '--max-age', '5m');
    expect([r.code, r.stderr.includes('--max-age')]).toEqual([2, true]);
  });

  it('when --root replaces the AWS root, a document under that root is accepted and a genuine one refused', async () => {
    const root = join(PKI, 'root.pem');
    expect((await verify(join(PKI, 'valid.cbor'), '--root', root)).code).toBe(0);
    expect((await verify(join(PKI, 'valid.cbor'))).code).toBe(1);
    const r = await verify(doc('doc-anjuna-1.cbor'), '--root', root, '--json');
    expect([r.code, json(r.stdout).code]).toEqual([1, 'CHAIN_UNTRUSTED_ROOT']);
  });

  it('when --root is missing or not a certificate, it exits 2', async () => {
    expect((await verify(join(PKI, 'valid.cbor'), '--root', join(PKI, 'nope.pem'))).code).toBe(2);
    const r = await verify(join(PKI, 'valid.cbor'), '--root', join(PKI, 'expected.json'));
    expect([r.code, r.stderr.includes('--root')]).toEqual([2, true]);
  });

  it('when --root is a huge file, it is refused without being read and exits 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'attestation-root-'));
    try {
      const big = join(dir, 'big.pem');
      writeFileSync(big, '');
      truncateSync(big, 3 * 1024 ** 3);
      const r = await verify(join(PKI, 'valid.cbor'), '--root', big);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/cannot read --root .*big\.pem: larger than 65536 bytes/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('with a document of the software NSM', () => {
    let dir: string;
    beforeAll(async () => {
      dir = tempDirSync('tee-attestation-');
      const nsm = await SoftwareNsm.create({ pcrs: new Map([[0, new Uint8Array(48).fill(1)]]) });
      writeFileSync(
        join(dir, 'sim.cbor'),
        await new NsmClient(nsm).attest({ nonce: Uint8Array.of(0xab) }),
      );
      writeFileSync(join(dir, 'sim-root.pem'), derToPem(SIMULATION_ROOT.der));
    });

    it('when the simulation root is given with --root, it is accepted and marked SIMULATED', async () => {
      const r = await runCli(
        ['attestation', 'verify', 'sim.cbor', '--root', 'sim-root.pem', '--nonce', 'ab'],
        {
          cwd: dir,
        },
      );
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^VALID \(SIMULATED/);
      const j = await runCli(
        ['attestation', 'verify', 'sim.cbor', '--root', 'sim-root.pem', '--json'],
        { cwd: dir },
      );
      expect(json(j.stdout).trustAnchor).toBe('tee-compile-simulation');
    });

    it('when no root is given, it is refused with CHAIN_UNTRUSTED_ROOT', async () => {
      const r = await runCli(['attestation', 'verify', 'sim.cbor', '--json'], { cwd: dir });
      expect([r.code, json(r.stdout).code]).toEqual([1, 'CHAIN_UNTRUSTED_ROOT']);
    });
  });
});

describe('tee-compile attestation inspect', () => {
  it('when the document is genuine, it prints its fields and chain and exits 0', async () => {
    const r = await runCli(['attestation', 'inspect', doc('doc-anjuna-1.cbor')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('not verified');
    expect(r.stdout).toContain('i-078824548edcf6519-enc01784234ec227b58');
    expect(r.stdout).toContain('CN=aws.nitro-enclaves');
    expect(r.stdout).toContain('is the AWS Nitro root G1');
  });

  it('when --json is given, it prints the fields and the certificate summaries', async () => {
    const r = await runCli(['attestation', 'inspect', doc('doc-anjuna-1.cbor'), '--json']);
    const o = json(r.stdout);
    expect(o.moduleId).toBe('i-078824548edcf6519-enc01784234ec227b58');
    expect((o.certificate as Record<string, string>).notAfter).toBe('2021-03-18T01:01:55.000Z');
    expect((o.cabundle as Array<Record<string, string>>)[0]!.subject).toBe(
      'C=US, O=Amazon, OU=AWS, CN=aws.nitro-enclaves',
    );
  });

  it('when the document is a mock that verification would refuse, inspect still shows it (exit 0)', async () => {
    const r = await runCli(['attestation', 'inspect', doc('mock-marlin-custom-1.cbor')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('is NOT the AWS Nitro root G1');
  });

  it('when the document does not decode, it exits 2 with the code', async () => {
    const r = await runCli([
      'attestation',
      'inspect',
      doc('neg-base-nitro-validator-1-as-committed.cbor'),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('CBOR_MALFORMED');
  });
});
