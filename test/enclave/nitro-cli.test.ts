/**
 * The backend's nitro-cli runner: the arguments it passes, the JSON it reads, and every `[ Exx ]`
 * failure it meets turned into a NitroError naming the code, its meaning and nitro-cli's words.
 * Runs against the stand-in nitro-cli (test/support/nitro/nitro-cli-standin.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeEifFile } from '../../src/eif/node.js';
import type { RunEnclaveRequest } from '../../src/enclave/nitro-cli.js';
import { NitroCli, parseNitroCliErrors, runEnclaveArgs } from '../../src/enclave/nitro-cli.js';
import type { NitroError } from '../../src/enclave/nitro-errors.js';
import { isNitroError } from '../../src/enclave/nitro-errors.js';
import type { StandinHost } from '../support/nitro/nitro-standin.js';
import { createStandinHost } from '../support/nitro/nitro-standin.js';

let host: StandinHost;
let cli: NitroCli;

beforeAll(async () => {
  host = await createStandinHost();
  cli = new NitroCli({ path: host.nitroCli, timeoutMs: 30_000, runTimeoutMs: 60_000 });
});
afterAll(async () => {
  await host.remove();
});

const request = (over: Partial<RunEnclaveRequest> = {}): RunEnclaveRequest => ({
  eifPath: host.eifs['go']!,
  cpuCount: 2,
  memoryMiB: 256,
  cid: 30_000,
  name: 'cli-test',
  debug: false,
  ...over,
});

async function failure(p: Promise<unknown>): Promise<NitroError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isNitroError(e)) throw new Error(`expected a NitroError, got ${String(e)}`);
  return e;
}

describe('nitro-cli arguments and output', () => {
  it('when asked to start an enclave, it passes exactly these arguments, in production mode unless debug is asked', () => {
    expect(runEnclaveArgs(request())).toEqual([
      'run-enclave',
      '--eif-path',
      host.eifs['go'],
      '--cpu-count',
      '2',
      '--memory',
      '256',
      '--enclave-cid',
      '30000',
      '--enclave-name',
      'cli-test',
    ]);
    expect(runEnclaveArgs(request({ debug: true })).slice(-1)).toEqual(['--debug-mode']);
  });

  it('when an enclave runs, it reads run-enclave, describe-enclaves and terminate-enclave output', async () => {
    const info = await cli.runEnclave(request());
    expect(info).toMatchObject({ EnclaveName: 'cli-test', EnclaveCID: 30_000, NumberOfCPUs: 2 });
    const listed = await cli.describeEnclaves();
    expect(listed.map((e) => [e.EnclaveID, e.State, e.Flags])).toEqual([
      [info.EnclaveID, 'RUNNING', 'NONE'],
    ]);
    await expect(cli.terminateEnclave(info.EnclaveID)).resolves.toEqual({
      EnclaveName: 'cli-test',
      EnclaveID: info.EnclaveID,
      Terminated: true,
    });
    expect(host.calls().some((c) => c.argv.includes('--all'))).toBe(false);
  });
});

describe('nitro-cli failures', () => {
  it('when the CID is reserved (E03), it fails to start naming E03 and nitro-cli’s text', async () => {
    const e = await failure(cli.runEnclave(request({ cid: 3 })));
    expect(e).toHaveCode('ENCLAVE_START_FAILED');
    expect(e.failure).toBe('NITRO_CLI_FAILED');
    expect(e.nitroCli).toMatchObject({
      command: 'run-enclave',
      code: 'E03',
      codes: ['E03'],
      exitCode: 3,
    });
    expect(e.message).toContain('E03 (an argument is invalid');
    expect(e.message).toContain('Invalid argument provided.');
  });

  it('when the EIF is missing (E19), the root cause is E19, not the E39 that follows it', async () => {
    const e = await failure(cli.runEnclave(request({ eifPath: '/nonexistent/x.eif' })));
    expect(e.nitroCli).toMatchObject({ code: 'E19', codes: ['E19', 'E39'], exitCode: 39 });
    expect(e.nitroCli?.message).toContain("File: '/nonexistent/x.eif', failing operation: 'Open'.");
    expect(e.nitroCli?.message).not.toContain('For more details');
  });

  it('when the pool lacks CPUs (E22) or memory (E27), or the memory is below 4 × the EIF (E26), the spec is refused', async () => {
    const cpus = await failure(cli.runEnclave(request({ cpuCount: 14 })));
    expect(cpus).toHaveCode('ENCLAVE_SPEC_INVALID');
    expect(cpus.nitroCli?.code).toBe('E22');
    expect(cpus.message).toContain('more CPUs than the enclave pool has');
    const memory = await failure(cli.runEnclave(request({ memoryMiB: 40_000 })));
    expect(memory).toHaveCode('ENCLAVE_SPEC_INVALID');
    expect(memory.nitroCli?.code).toBe('E27');
    const big = join(host.dir, 'big.eif');
    await writeEifFile(big, host.eifInput({ kernel: new Uint8Array(2 * 1024 * 1024) }));
    const small = await failure(cli.runEnclave(request({ eifPath: big, memoryMiB: 8 })));
    expect(small).toHaveCode('ENCLAVE_SPEC_INVALID');
    expect(small.nitroCli?.code).toBe('E26');
    expect(small.message).toContain('at least 4 times the EIF size');
    expect(small.nitroCli?.message).toContain('the minimum memory should be 12 MB');
  });

  it('when the CID is in use (E29) or the EIF does not boot (E36), it fails to start naming the code', async () => {
    const first = await cli.runEnclave(request({ cid: 30_001, name: 'holder' }));
    const taken = await failure(cli.runEnclave(request({ cid: 30_001 })));
    expect(taken).toHaveCode('ENCLAVE_START_FAILED');
    expect(taken.nitroCli?.code).toBe('E29');
    await cli.terminateEnclave(first.EnclaveID);
    const bad = join(host.dir, 'unbootable.eif');
    const input = host.eifInput();
    await writeEifFile(bad, { ...input, ramdisks: [input.ramdisks[0]!, new Uint8Array([0])] });
    const boot = await failure(cli.runEnclave(request({ eifPath: bad })));
    expect(boot.nitroCli?.code).toBe('E36');
    expect(boot.message).toContain('did not signal that it booted');
  });

  it('when the enclave id is unknown (E11), terminate fails naming E11', async () => {
    const e = await failure(cli.terminateEnclave('i-0123456789abcdef0-enc1'));
    expect(e.nitroCli).toMatchObject({ command: 'terminate-enclave', code: 'E11', exitCode: 11 });
  });

  it('when nitro-cli is not installed, it says so', async () => {
    const missing = new NitroCli({
      path: join(host.dir, 'no-such-nitro-cli'),
      timeoutMs: 5000,
      runTimeoutMs: 5000,
    });
    const e = await failure(missing.describeEnclaves());
    expect(e.failure).toBe('NITRO_CLI_FAILED');
    expect(e.message).toContain('not found; install aws-nitro-enclaves-cli');
  });

  it('when nitro-cli prints something other than its JSON, it fails with NITRO_CLI_OUTPUT', async () => {
    const odd = join(host.dir, 'odd-nitro-cli');
    await writeFile(odd, '#!/bin/sh\necho \'[{"EnclaveID": 5}]\'\n');
    await chmod(odd, 0o755);
    const e = await failure(
      new NitroCli({ path: odd, timeoutMs: 5000, runTimeoutMs: 5000 }).describeEnclaves(),
    );
    expect(e.failure).toBe('NITRO_CLI_OUTPUT');
    expect(e.path).toBe('0.EnclaveID');
  });

  it('when nitro-cli hangs, it is killed at the time limit and the failure says so', async () => {
    const slow = join(host.dir, 'slow-nitro-cli');
    await writeFile(slow, '#!/bin/sh\nexec sleep 30\n');
    await chmod(slow, 0o755);
    const e = await failure(
      new NitroCli({ path: slow, timeoutMs: 300, runTimeoutMs: 300 }).describeEnclaves(),
    );
    expect(e.nitroCli).toMatchObject({ code: undefined, signal: 'SIGKILL' });
    expect(e.message).toContain('no answer within 0.3 s');
  });
});

describe('parsing [ Exx ] messages', () => {
  it('when stderr holds several messages over several lines, each is cut at its help link', () => {
    const stderr =
      'Start allocating memory...\n[ E27 ] Insufficient memory available. User provided `memory` is 9 MB.\nYou can increase it.\n\nFor more details, please visit https://x#E27\n\nIf you open a support ticket, please provide the error log found at "/l"\nFailed connections: 1\n[ E39 ] Enclave process connection failure.\n\nFor more details, please visit https://x#E39\n';
    expect(parseNitroCliErrors(stderr)).toEqual([
      {
        code: 'E27',
        message:
          'Insufficient memory available. User provided `memory` is 9 MB.\nYou can increase it.',
      },
      { code: 'E39', message: 'Enclave process connection failure.' },
    ]);
    expect(parseNitroCliErrors('error: something clap says\n')).toEqual([]);
  });
});
