/**
 * The agent's settings: the configuration file (validated, errors naming the field), flags over
 * the file, the nitro allocator pool, the token file, the resource pool; and the command's usage.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readTokenFile } from '../../src/agent/auth.js';
import { parseNitroBackendConfig } from '../../src/enclave/nitro-config.js';
import {
  DEFAULT_RETENTION_MAX_CACHE_BYTES,
  NITRO_MAX_ENCLAVES,
  countCpuList,
  parseListen,
  readConfigFile,
  readNitroAllocator,
  resolveSettings,
} from '../../src/agent/config.js';
import { ResourcePool } from '../../src/agent/resources.js';
import { runCli } from '../support/cli/cli.js';
import { removeDir, tempDir } from '../support/agent/agent-harness.js';

let dir: string;

beforeAll(async () => {
  dir = await tempDir('tc-agent-config-');
});
afterAll(async () => {
  await removeDir(dir);
});

async function configFile(name: string, content: unknown): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('agent configuration', () => {
  it.each([
    ['an unknown key', { colour: 'red' }, 'colour'],
    ['a nested unknown key', { limits: { maxSourceByte: 1 } }, 'limits.maxSourceByte'],
    ['a wrong type', { maxConcurrent: 'two' }, 'maxConcurrent'],
    ['a bad backend', { backend: 'docker' }, 'backend'],
    ['a negative retention', { retention: { maxAgeHours: -1 } }, 'retention.maxAgeHours'],
    ['a fractional cache budget', { retention: { maxCacheBytes: 1.5 } }, 'retention.maxCacheBytes'],
  ])('when the file has %s, it is refused naming the field', async (_name, content, field) => {
    const file = await configFile('bad.json', content);
    await expect(readConfigFile(file)).rejects.toMatchObject({
      code: 'AGENT_CONFIG_INVALID',
      path: field,
    });
  });

  it('when the file is not JSON, it is refused', async () => {
    await expect(readConfigFile(await configFile('text.json', '{ nope'))).rejects.toHaveCode(
      'AGENT_CONFIG_INVALID',
    );
  });

  it('when flags and the file disagree, the flags win; relative paths in the file are relative to it', async () => {
    const file = await configFile('agent.json', {
      backend: 'local',
      dataDir: 'state',
      maxConcurrent: 3,
      retention: { maxAgeHours: 2 },
      limits: { maxSourceBytes: 1000 },
    });
    const s = await resolveSettings(
      await readConfigFile(file),
      { maxConcurrent: '5', listen: '[::1]:0' },
      { cwd: '/' },
    );
    expect(s).toMatchObject({
      backend: 'local',
      dataDir: join(dir, 'state'),
      maxConcurrent: 5,
      listen: { host: '::1', port: 0 },
      retention: { maxAgeMs: 2 * 3_600_000, maxCacheBytes: DEFAULT_RETENTION_MAX_CACHE_BYTES },
      limits: { maxSourceBytes: 1000 },
    });
  });

  it('when a flag is malformed, it is refused naming it', async () => {
    await expect(
      resolveSettings({}, { dataDir: dir, maxConcurrent: '0' }, { cwd: '/' }),
    ).rejects.toMatchObject({
      path: 'maxConcurrent',
    });
    await expect(
      resolveSettings({}, { dataDir: dir, backend: 'vm' }, { cwd: '/' }),
    ).rejects.toMatchObject({ path: 'backend' });
    await expect(resolveSettings({}, {}, { cwd: '/' })).rejects.toMatchObject({ path: 'dataDir' });
    expect(() => parseListen('8723')).toThrowWithCode('AGENT_CONFIG_INVALID');
    expect(() => parseListen('host:70000')).toThrowWithCode('AGENT_CONFIG_INVALID');
  });

  it("when the backend is nitro, the capacity is the allocator's pool and at most 4 enclaves", async () => {
    const allocator = await configFile(
      'allocator.yaml',
      '# comment\n---\nmemory_mib: 24576\ncpu_pool: 2,3,6-9\n',
    );
    expect(await readNitroAllocator(allocator)).toEqual({ cpus: 6, memoryMiB: 24576 });
    const s = await resolveSettings(
      { capacity: { enclaves: 16 } },
      { dataDir: dir },
      { cwd: '/', allocatorFile: allocator },
    );
    expect(s.capacity).toEqual({ enclaves: NITRO_MAX_ENCLAVES, cpus: 6, memoryMiB: 24576 });
    expect(countCpuList('0-3,8')).toBe(5);
    expect(await readNitroAllocator(join(dir, 'missing.yaml'))).toBeNull();
  });

  it('when the example configuration is read, it is valid for the agent and for the nitro backend', async () => {
    const example = fileURLToPath(new URL('../../agent/agent.example.json', import.meta.url));
    const s = await resolveSettings(
      await readConfigFile(example),
      {},
      { cwd: '/', allocatorFile: join(dir, 'none.yaml') },
    );
    expect(s).toMatchObject({
      backend: 'nitro',
      dataDir: '/var/lib/tee-compile-agent',
      capacity: { enclaves: 4 },
    });
    expect(parseNitroBackendConfig({ dataDir: s.dataDir, ...s.nitro })).toMatchObject({
      imagesDir: '/var/lib/tee-compile-agent/eif',
    });
  });

  it('when the token file holds a short token, it is refused; a good one is read without its newline', async () => {
    const short = await configFile('short.token', 'abc\n');
    await expect(readTokenFile(short)).rejects.toMatchObject({
      code: 'AGENT_CONFIG_INVALID',
      path: 'tokenFile',
    });
    const good = await configFile('good.token', 'a-long-enough-token-value\n');
    const t = await readTokenFile(good);
    expect(t.digest).toHaveLength(32);
  });
});

describe('enclave resource pool', () => {
  it('when requests exceed what is free, they wait in order; a request larger than the whole pool is refused at once', async () => {
    const pool = new ResourcePool({ enclaves: 4, cpus: 4, memoryMiB: 8192 });
    expect(() => pool.check({ cpus: 8, memoryMiB: 1024 })).toThrowWithCode(
      'AGENT_RESOURCES_EXCEEDED',
    );
    const order: string[] = [];
    const a = await pool.acquire({ cpus: 2, memoryMiB: 4096 });
    const b = pool.acquire({ cpus: 4, memoryMiB: 1024 }).then((r) => (order.push('b'), r));
    // c would fit now, but b came first: no overtaking.
    const c = pool.acquire({ cpus: 2, memoryMiB: 1024 }).then((r) => (order.push('c'), r));
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual([]);
    a();
    (await b)();
    (await c)();
    expect(order).toEqual(['b', 'c']);
    expect(pool.inUse).toEqual({ enclaves: 0, cpus: 0, memoryMiB: 0 });
  });

  it('when a waiting request is cancelled, it leaves the line with AGENT_CANCELLED', async () => {
    const pool = new ResourcePool({ enclaves: 1, cpus: 4, memoryMiB: 8192 });
    const held = await pool.acquire({ cpus: 1, memoryMiB: 512 });
    const ctl = new AbortController();
    const waiting = pool.acquire({ cpus: 1, memoryMiB: 512 }, ctl.signal);
    ctl.abort();
    await expect(waiting).rejects.toHaveCode('AGENT_CANCELLED');
    expect(pool.waiting).toBe(0);
    held();
  });
});

describe('tee-compile agent (command)', () => {
  it('when asked for --help, it prints the usage and exits 0', async () => {
    const r = await runCli(['agent', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--max-concurrent');
  });

  it('when a flag is unknown or a setting invalid, it exits 2 naming the problem', async () => {
    const unknown = await runCli(['agent', '--colour', 'red']);
    expect(unknown.code).toBe(2);
    const noDir = await runCli(['agent', '--backend', 'local']);
    expect(noDir.code).toBe(2);
    expect(noDir.stderr).toContain('dataDir');
    const bad = await runCli(['agent', '--data-dir', dir, '--max-concurrent', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('maxConcurrent');
  });
});
