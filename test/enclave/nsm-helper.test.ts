import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { NsmClient, SIMULATION_ROOT, verifyAttestation } from '../../src/attestation/index.js';
import { SoftwareNsm } from '../../src/attestation/software-nsm.js';
import { findImage } from '../../src/catalog/index.js';
import { loadImageCatalog } from '../../src/catalog/node.js';
import { encodeCbor } from '../../src/cbor/index.js';
import { HelperNsmTransport } from '../../src/worker/nsm-device.js';
import { fromHex, toHex } from '../../src/util/hex.js';

const run = promisify(execFile);
const HELPER_DIR = fileURLToPath(new URL('../../enclave/nsm-helper/', import.meta.url));
const SHIM_SRC = fileURLToPath(new URL('../support/nitro/nsm-shim.c', import.meta.url));

let dir: string;
let helper: string;
let shim: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tee-nsm-'));
  // The helper's own Makefile, with the flags CI uses.
  await run('make', ['-s', '-C', HELPER_DIR, `OUT=${dir}`, 'CC=gcc']);
  helper = join(dir, 'tee-nsm');
  shim = join(dir, 'nsm-shim.so');
  await run('gcc', [
    '-shared',
    '-fPIC',
    '-Wall',
    '-Wextra',
    '-Werror',
    '-o',
    shim,
    SHIM_SRC,
    '-ldl',
  ]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  log: Record<string, string>;
}

let runs = 0;
/** Runs tee-nsm with `input` on stdin, under the shim unless `shimmed` is false. */
function helperRun(
  input: Uint8Array,
  opts: { mode?: string; response?: Uint8Array; shimmed?: boolean; stdout?: number } = {},
): Promise<Run> {
  const log = join(dir, `log-${runs++}.txt`);
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] };
  if (opts.shimmed !== false) {
    env['LD_PRELOAD'] = shim;
    env['TEE_NSM_SHIM_LOG'] = log;
    env['TEE_NSM_SHIM_MODE'] = opts.mode ?? 'ok';
    env['TEE_NSM_SHIM_RESPONSE'] = toHex(opts.response ?? new Uint8Array(0));
  }
  return new Promise((resolve, reject) => {
    const child = spawn(helper, [], {
      env,
      stdio: ['pipe', opts.stdout ?? 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      readFile(log, 'utf8')
        .catch(() => '')
        .then((text) => {
          const entries = text
            .split('\n')
            .filter((l) => l.includes('='))
            .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const);
          resolve({
            code,
            stdout: Buffer.concat(out),
            stderr: Buffer.concat(err).toString('utf8'),
            log: Object.fromEntries(entries),
          });
        }, reject);
    });
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(input);
  });
}

// nitro-brief §1.2: {"DescribePCR":{"index":16}}
const DESCRIBE_PCR16 = fromHex('a16b4465736372696265504352a165696e64657810');
const DESCRIBE_PCR_RESPONSE = encodeCbor(
  new Map([['DescribePCR', new Map<string, Uint8Array | number>([['data', new Uint8Array(48)]])]]),
);

describe('tee-nsm (NSM device helper)', () => {
  it('when it compiles, its ioctl number is statically checked against 0xC0200A00', async () => {
    const src = await readFile(join(HELPER_DIR, 'tee-nsm.c'), 'utf8');
    expect(src).toContain('_IOWR(0x0A, 0, struct tee_nsm_raw)');
    expect(src).toMatch(/_Static_assert\(TEE_NSM_IOCTL_REQUEST == 0xC0200A00UL/);
  });

  it('when the NSM answers, it passes the request through the 32-byte struct and prints exactly the response', async () => {
    const r = await helperRun(DESCRIBE_PCR16, { response: DESCRIBE_PCR_RESPONSE });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.log['error']).toBeUndefined();
    expect(r.log['ioctl_cmd']).toBe('0xC0200A00');
    expect(r.log['request']).toBe(toHex(DESCRIBE_PCR16));
    expect(r.log['request_len']).toBe(String(DESCRIBE_PCR16.length));
    expect(r.log['response_capacity']).toBe(String(0x3000));
    expect(new Uint8Array(r.stdout)).toEqual(DESCRIBE_PCR_RESPONSE);
  });

  it('when the response fills the whole 0x3000-byte buffer, it writes all of it', async () => {
    const big = new Uint8Array(0x3000).map((_, i) => i & 0xff);
    const r = await helperRun(DESCRIBE_PCR16, { response: big });
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(0x3000);
    expect(new Uint8Array(r.stdout)).toEqual(big);
  });

  it('when the request is exactly 4096 bytes, it is passed on', async () => {
    const req = new Uint8Array(4096).fill(0x41);
    const r = await helperRun(req, { response: fromHex('a0') });
    expect(r.code).toBe(0);
    expect(r.log['request_len']).toBe('4096');
  });

  it('when the request is over 4096 bytes, it exits 5 without calling the device', async () => {
    const r = await helperRun(new Uint8Array(4097), { response: fromHex('a0') });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('request too large');
    expect(r.log['ioctl_cmd']).toBeUndefined();
  });

  it('when the driver answers EMSGSIZE, it exits 5', async () => {
    const r = await helperRun(DESCRIBE_PCR16, { mode: 'emsgsize' });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('request too large for the NSM');
  });

  it('when there is no /dev/nsm, it exits 3 saying it is not in an enclave', async () => {
    const shimmed = await helperRun(DESCRIBE_PCR16, { mode: 'enoent' });
    expect(shimmed.code).toBe(3);
    expect(shimmed.stderr).toContain('not inside a Nitro Enclave');
    // And for real: this machine has no NSM device.
    const real = await helperRun(DESCRIBE_PCR16, { shimmed: false });
    expect(real.code).toBe(3);
    expect(real.stdout.length).toBe(0);
  });

  it('when /dev/nsm cannot be opened, it exits 4', async () => {
    const r = await helperRun(DESCRIBE_PCR16, { mode: 'eacces' });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('Permission denied');
  });

  it('when the ioctl fails otherwise, it exits 6 with the errno', async () => {
    const r = await helperRun(DESCRIBE_PCR16, { mode: 'eio' });
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('NSM ioctl failed: Input/output error');
  });

  it('when the driver reports a length beyond the buffer, it exits 9 and writes nothing', async () => {
    const r = await helperRun(DESCRIBE_PCR16, { mode: 'badlen', response: fromHex('a0') });
    expect(r.code).toBe(9);
    expect(r.stdout.length).toBe(0);
  });

  it('when stdin is empty, it exits 7 (short read)', async () => {
    const r = await helperRun(new Uint8Array(0), { response: fromHex('a0') });
    expect(r.code).toBe(7);
    expect(r.stderr).toContain('empty request');
  });

  it('when stdout cannot take the response, it exits 8 (short write)', async () => {
    const full = openSync('/dev/full', 'w');
    try {
      const r = await helperRun(DESCRIBE_PCR16, { response: DESCRIBE_PCR_RESPONSE, stdout: full });
      expect(r.code).toBe(8);
      expect(r.stderr).toContain('cannot write the response');
    } finally {
      closeSync(full);
    }
  });

  it('when relayed to the software NSM, the worker transport gets a document that verifies with the image PCRs', async () => {
    const image = findImage(await loadImageCatalog(), { language: 'rust' });
    const pcrs = new Map([
      [0, fromHex(image.simulated.pcr0)],
      [1, fromHex(image.simulated.pcr1)],
      [2, fromHex(image.simulated.pcr2)],
    ]);
    const nsm = await SoftwareNsm.create({ pcrs });
    const socket = join(dir, 'nsm.sock');
    // One framed request per connection: u32 big-endian length, then the CBOR (see nsm-shim.c).
    const server: Server = createServer((c) => {
      let buf = Buffer.alloc(0);
      c.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length < 4 || buf.length < 4 + buf.readUInt32BE(0)) return;
        void nsm.request(new Uint8Array(buf.subarray(4, 4 + buf.readUInt32BE(0)))).then((r) => {
          const head = Buffer.alloc(4);
          head.writeUInt32BE(r.length);
          c.end(Buffer.concat([head, r]));
        });
      });
    });
    await new Promise<void>((res) => server.listen(socket, res));
    try {
      // The worker spawns the helper by path; this wrapper adds the driver stand-in to it.
      const wrapper = join(dir, 'tee-nsm-relayed');
      await writeFile(
        wrapper,
        `#!/bin/sh\nLD_PRELOAD='${shim}' TEE_NSM_SHIM_SOCKET='${socket}' TEE_NSM_SHIM_LOG='${join(dir, 'relay.log')}' exec '${helper}'\n`,
      );
      await chmod(wrapper, 0o755);
      const client = new NsmClient(new HelperNsmTransport(wrapper));
      const nonce = new Uint8Array(randomBytes(32));
      const userData = new Uint8Array(createHash('sha256').update('provenance.json').digest());
      const doc = await client.attest({ nonce, userData });
      const r = await verifyAttestation(doc, {
        trustAnchors: [SIMULATION_ROOT],
        expectedNonce: nonce,
        expectedUserData: userData,
        expectedPcrs: pcrs,
      });
      expect(r.ok).toBe(true);
      expect((await client.describePcr(0)).data).toEqual(pcrs.get(0));
      expect(await readFile(join(dir, 'relay.log'), 'utf8')).not.toContain('error=');
    } finally {
      await new Promise((res) => server.close(res));
    }
  });

  it('when given arguments, it prints usage and exits 2', async () => {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((res) => {
      const c = spawn(helper, ['--help']);
      const e: Buffer[] = [];
      c.stderr.on('data', (b: Buffer) => e.push(b));
      c.on('close', (code) => res({ code, stderr: Buffer.concat(e).toString() }));
    });
    expect(code).toBe(2);
    expect(stderr).toContain('usage: tee-nsm');
  });
});
