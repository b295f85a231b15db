/**
 * The stand-in nitro-cli against what nitro-cli prints (aws-nitro-enclaves-cli
 * `src/common/json_output.rs`, `src/common/document_errors.rs`, `src/common/mod.rs`; nitro-brief
 * §4): JSON keys and their order, `[ Exx ]` messages and exit statuses, CID and resource rules,
 * and enclaves that end when their worker does. The backend's tests rely on this being faithful.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeEifFile, writeEifFile } from '../../src/eif/node.js';
import { formatDescribeEifJson } from '../../src/eif/index.js';
import type { StandinHost, StandinRun } from '../support/nitro/nitro-standin.js';
import { STANDIN_INSTANCE, createStandinHost } from '../support/nitro/nitro-standin.js';

let host: StandinHost;
let eif: string;

beforeAll(async () => {
  host = await createStandinHost();
  eif = host.eifs['go']!;
});
afterAll(async () => {
  await host.remove();
});

/** `run-enclave` of `eifPath` with `cpus` vCPUs and `memoryMiB`, then the arguments in `more`. */
const runEnclave = (
  eifPath: string,
  cpus: number,
  memoryMiB: number,
  more: string[] = [],
  user?: string,
): Promise<StandinRun> =>
  host.nitro(
    [
      'run-enclave',
      '--eif-path',
      eifPath,
      '--cpu-count',
      String(cpus),
      '--memory',
      String(memoryMiB),
      ...more,
    ],
    user,
  );

/** A start of the test EIF with 2 vCPUs and 512 MiB, named, at `cid`. */
const run = (cid: number, over: string[] = [], name = `e${cid}`): Promise<StandinRun> =>
  runEnclave(eif, 2, 512, ['--enclave-cid', String(cid), '--enclave-name', name, ...over]);

const idOf = (stdout: string): string => (JSON.parse(stdout) as { EnclaveID: string }).EnclaveID;

/** The `[ Exx ]` codes printed, in order. */
const codes = (stderr: string): string[] =>
  [...stderr.matchAll(/\[ (E\d\d) \]/g)].map((m) => m[1]!);

describe('stand-in nitro-cli output', () => {
  it('when an enclave starts, run-enclave prints the EnclaveRunInfo keys in order and the progress lines', async () => {
    const r = await run(20001);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(info)).toEqual([
      'EnclaveName',
      'EnclaveID',
      'ProcessID',
      'EnclaveCID',
      'NumberOfCPUs',
      'CPUIDs',
      'MemoryMiB',
    ]);
    expect(info).toMatchObject({
      EnclaveName: 'e20001',
      EnclaveCID: 20001,
      NumberOfCPUs: 2,
      MemoryMiB: 512,
    });
    expect(info['EnclaveID']).toMatch(new RegExp(`^${STANDIN_INSTANCE}-enc[0-9a-f]+$`));
    // serde_json::to_string_pretty: two-space indentation, one array element per line.
    expect(r.stdout).toBe(`${JSON.stringify(info, null, 2)}\n`);
    expect(r.stderr).toMatch(
      /^Start allocating memory\.\.\.\nStarted enclave with enclave-cid: 20001, memory: 512 MiB, cpu-ids: \[1, 7\]\n$/,
    );

    const d = await host.nitro(['describe-enclaves']);
    const list = JSON.parse(d.stdout) as Record<string, unknown>[];
    expect(list).toHaveLength(1);
    expect(Object.keys(list[0]!)).toEqual([
      'EnclaveName',
      'EnclaveID',
      'ProcessID',
      'EnclaveCID',
      'NumberOfCPUs',
      'CPUIDs',
      'MemoryMiB',
      'State',
      'Flags',
      'Measurements',
    ]);
    const m = (await describeEifFile(eif)).measurements;
    expect(list[0]).toMatchObject({
      State: 'RUNNING',
      Flags: 'NONE',
      Measurements: { HashAlgorithm: 'Sha384 { ... }', PCR0: m.pcr0, PCR1: m.pcr1, PCR2: m.pcr2 },
    });

    const t = await host.nitro(['terminate-enclave', '--enclave-id', idOf(r.stdout)]);
    expect(t.code).toBe(0);
    expect(JSON.parse(t.stdout)).toEqual({
      EnclaveName: 'e20001',
      EnclaveID: idOf(r.stdout),
      Terminated: true,
    });
    expect(t.stderr).toBe(`Successfully terminated enclave ${idOf(r.stdout)}.\n`);
    expect((await host.nitro(['describe-enclaves'])).stdout).toBe('[]\n');
  });

  it('when describe-eif reads an EIF, it prints what tee-compile eif describe --json prints', async () => {
    const r = await host.nitro(['describe-eif', '--eif-path', eif]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${formatDescribeEifJson(await describeEifFile(eif))}\n`);
  });

  it('when a name is taken, the new enclave gets the name with _1, as nitro-cli names it', async () => {
    const a = await run(20002, [], 'same');
    const b = await run(20003, [], 'same');
    expect(JSON.parse(b.stdout)).toMatchObject({ EnclaveName: 'same_1' });
    for (const x of [a, b]) await host.nitro(['terminate-enclave', '--enclave-id', idOf(x.stdout)]);
  });

  it('when debug mode is asked for, describe-enclaves shows the DEBUG_MODE flag', async () => {
    const r = await run(20004, ['--debug-mode']);
    const d = JSON.parse((await host.nitro(['describe-enclaves'])).stdout) as { Flags: string }[];
    expect(d[0]!.Flags).toBe('DEBUG_MODE');
    await host.nitro(['terminate-enclave', '--enclave-id', idOf(r.stdout)]);
  });
});

describe('stand-in nitro-cli errors', () => {
  it('when the CID is reserved, run-enclave fails with E03 and status 3 before any enclave process', async () => {
    for (const cid of ['1', '2', '3', '4294967295']) {
      const r = await run(Number(cid));
      expect(r.code).toBe(3);
      expect(codes(r.stderr)).toEqual(['E03']);
      // These checks pass no additional info: nitro-cli prints its placeholder.
      expect(r.stderr).toContain('The parameter `MISSING_INFO` is not a valid integer');
    }
    const r = await runEnclave(eif, 2, 512, ['--enclave-cid', 'x1']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('The parameter `enclave-cid` is not a valid integer (`x1`)');
  });

  it('when the EIF is missing, it fails with E19 naming the file, then E39, status 39', async () => {
    const r = await runEnclave('/nonexistent.eif', 2, 512);
    expect(r.code).toBe(39);
    expect(codes(r.stderr)).toEqual(['E19', 'E39']);
    expect(r.stderr).toContain("File: '/nonexistent.eif', failing operation: 'Open'.");
    expect(r.stderr).toContain('Failed connections: 1\n[ E39 ]');
    expect(r.stderr).toContain(
      'https://docs.aws.amazon.com/enclaves/latest/user/cli-errors.html#E19',
    );
  });

  it('when more CPUs than the pool has are asked for, it fails with E22', async () => {
    const r = await runEnclave(eif, 14, 512);
    expect(codes(r.stderr)).toEqual(['E22', 'E39']);
    expect(r.stderr).toContain(
      'User provided `cpu-count` is 14, which is more than the configured CPU pool size.',
    );
  });

  it('when the memory is below 4 × the EIF size, it fails with E26 giving the minimum', async () => {
    const big = join(host.dir, 'big.eif');
    await writeEifFile(big, host.eifInput({ kernel: new Uint8Array(3 * 1024 * 1024) }));
    const r = await runEnclave(big, 2, 8);
    expect(r.code).toBe(39);
    expect(codes(r.stderr)).toEqual(['E26', 'E39']);
    expect(r.stderr).toContain(
      'User provided `memory` is 8 MB, but based on the EIF file size, the minimum memory should be 16 MB',
    );
    // The check comes before memory is allocated.
    expect(r.stderr).not.toContain('Start allocating memory');
  });

  it('when the pool has not that much memory free, it fails with E27', async () => {
    const r = await runEnclave(eif, 2, 20000);
    expect(codes(r.stderr)).toEqual(['E27', 'E39']);
    expect(r.stderr).toContain(
      'User provided `memory` is 20000 MB, which is more than the available hugepage memory.',
    );
  });

  it('when the CID is in use or the CPUs are not whole cores, the start ioctl fails with E29', async () => {
    const a = await run(20010);
    const taken = await run(20010, [], 'second');
    expect(codes(taken.stderr)).toEqual(['E29', 'E39']);
    const odd = await runEnclave(eif, 3, 512);
    expect(codes(odd.stderr)).toEqual(['E29', 'E39']);
    await host.nitro(['terminate-enclave', '--enclave-id', idOf(a.stdout)]);
  });

  it('when the EIF does not boot, it fails with E36 after the enclave started', async () => {
    const bad = join(host.dir, 'unbootable.eif');
    const input = host.eifInput();
    await writeEifFile(bad, {
      ...input,
      ramdisks: [input.ramdisks[0]!, new TextEncoder().encode('not an image')],
    });
    const r = await runEnclave(bad, 2, 64);
    expect(codes(r.stderr)).toEqual(['E36', 'E39']);
    expect(r.stderr).toContain('Started enclave with enclave-cid: 16');
    expect(host.enclaves()).toEqual([]);
  });

  it('when the enclave id or name is unknown, terminate-enclave fails with E11 or E58', async () => {
    const id = await host.nitro([
      'terminate-enclave',
      '--enclave-id',
      `${STANDIN_INSTANCE}-encfff`,
    ]);
    expect(id.code).toBe(11);
    expect(codes(id.stderr)).toEqual(['E11']);
    const name = await host.nitro(['terminate-enclave', '--enclave-name', 'nobody']);
    expect(name.code).toBe(58);
    expect(codes(name.stderr)).toEqual(['E58']);
  });

  it('when an argument is unknown or missing, it fails as clap does, status 1 and no [ Exx ]', async () => {
    const r = await host.nitro(['run-enclave', '--eif-path', eif, '--memory', '512']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: The following required arguments were not provided:/);
    expect(codes(r.stderr)).toEqual([]);
  });
});

describe('stand-in host behaviour', () => {
  it('when the worker exits, the enclave disappears from describe-enclaves and frees its CID', async () => {
    const script = join(host.dir, 'exits.mjs');
    await writeFile(script, 'setTimeout(() => process.exit(0), 300);\n');
    const worker = host.config().workerEntry;
    host.configure({ workerEntry: script });
    try {
      const r = await run(20020);
      expect(r.code).toBe(0);
      for (let i = 0; i < 100 && host.enclaves().length > 0; i++)
        await new Promise((res) => setTimeout(res, 50));
      expect((await host.nitro(['describe-enclaves'])).stdout).toBe('[]\n');
      const again = await run(20020);
      expect(again.code).toBe(0);
      // Leave the host empty for the next test, whatever the second worker's timing.
      await host.nitro(['terminate-enclave', '--enclave-id', idOf(again.stdout)]);
    } finally {
      host.configure({ workerEntry: worker });
    }
  });

  it('when another user runs an enclave, it is not listed but its CID is taken', async () => {
    const other = await runEnclave(eif, 2, 512, ['--enclave-cid', '20030'], 'other');
    expect(other.code).toBe(0);
    expect((await host.nitro(['describe-enclaves'])).stdout).toBe('[]\n');
    expect(codes((await run(20030)).stderr)).toEqual(['E29', 'E39']);
    const t = await host.nitro(['terminate-enclave', '--enclave-id', idOf(other.stdout)]);
    expect(t.code).toBe(11);
    await host.nitro(['terminate-enclave', '--enclave-id', idOf(other.stdout)], 'other');
  });
});
