/**
 * The agent with the nitro backend on a stand-in Nitro host (stand-in nitro-cli and vsock bridge,
 * real workers, simulated EIFs): at most 4 enclaves at once whatever the concurrency, every
 * result verifies; at start, this agent's leftover enclaves are terminated and no one else's.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PipelineExecutor } from '../../src/agent/pipeline-executor.js';
import { createBackend } from '../../src/enclave/backends.js';
import { NITRO_MAX_ENCLAVES } from '../../src/agent/config.js';
import type { TestAgent } from '../support/agent/agent-harness.js';
import {
  json,
  postBuild,
  removeDir,
  startTestAgent,
  tempDir,
  waitFinished,
} from '../support/agent/agent-harness.js';
import { goProject, verifyResult } from '../support/agent/agent-pipeline.js';
import { commitAll, writeProject, zipDir } from '../support/source/agent-sources.js';
import type { StandinHost } from '../support/nitro/nitro-standin.js';
import { createStandinHost } from '../support/nitro/nitro-standin.js';
import { backendSizing } from '../../src/agent/resources.js';

let host: StandinHost;
let work: string;
let zipB64: string;
let commit: string;

async function startNitroAgent(dataDir: string, maxConcurrent = 6): Promise<TestAgent> {
  const backend = createBackend('nitro', {
    catalog: host.catalog,
    nitro: host.backendConfig({ owner: 'agenttest' }),
  });
  return startTestAgent({
    dataDir,
    backend,
    // As `tee-compile agent` does: the budget counts the memory the backend really asks for.
    sizing: backendSizing(backend, 1),
    executor: new PipelineExecutor({ catalog: host.catalog, cacheDir: join(dataDir, 'cache') }),
    config: {
      backend: 'nitro',
      maxConcurrent,
      capacity: { enclaves: 16, cpus: 12, memoryMiB: 16384 },
    },
  });
}

beforeAll(async () => {
  host = await createStandinHost();
  work = await tempDir('tc-agent-nitro-');
  const proj = join(work, 'proj');
  await writeProject(proj, goProject('sleep 1; cat message.txt > out.txt'));
  await writeProject(proj, { 'message.txt': 'from a nitro enclave\n' });
  commit = await commitAll(proj);
  await zipDir(proj, join(work, 's.zip'));
  zipB64 = (await readFile(join(work, 's.zip'))).toString('base64');
});

afterAll(async () => {
  await host.remove();
  await removeDir(work);
});

describe('agent with the nitro backend (stand-in host)', () => {
  it('when 6 builds run with --max-concurrent 6, at most 4 enclaves run at once and every result verifies', async () => {
    const dataDir = await tempDir('tc-agent-nitro-data-');
    const agent = await startNitroAgent(dataDir);
    let most = 0;
    const sampler = setInterval(() => {
      most = Math.max(most, host.enclaves().length);
    }, 50);
    try {
      const nonces = Array.from({ length: 6 }, (_x, i) =>
        createHash('sha256').update(`n${i}`).digest('hex'),
      );
      const ids: string[] = [];
      for (const nonce of nonces) {
        const res = await postBuild(agent, { nonce, source_data: zipB64 });
        ids.push((await json<{ job_id: string }>(res)).job_id);
      }
      for (const [i, id] of ids.entries()) {
        expect((await waitFinished(agent.fetch, id)).state).toBe('succeeded');
        const bundle = Buffer.from(await (await agent.fetch(`/build/${id}/result`)).arrayBuffer());
        const v = await verifyResult(bundle, { nonce: nonces[i]!, commit });
        expect(v.simulated).toBe(true);
      }
      expect(most).toBeLessThanOrEqual(NITRO_MAX_ENCLAVES);
      expect(most).toBeGreaterThan(1);
      expect(host.enclaves()).toEqual([]);
    } finally {
      clearInterval(sampler);
      await agent.stop();
      await removeDir(dataDir);
    }
  });

  it("when the agent starts, it terminates the enclaves a crashed agent of the same owner left, and keeps other owners' enclaves", async () => {
    const eif = host.eifs.go!;
    const run = (name: string) =>
      host.nitro([
        'run-enclave',
        '--eif-path',
        eif,
        '--cpu-count',
        '2',
        '--memory',
        '512',
        '--enclave-name',
        name,
      ]);
    expect((await run('tee-compile-agenttest-leftover')).code).toBe(0);
    expect((await run('tee-compile-someoneelse-build')).code).toBe(0);
    const dataDir = await tempDir('tc-agent-nitro-orphan-');
    const agent = await startNitroAgent(dataDir);
    try {
      expect(host.enclaves().map((e) => e.name)).toEqual(['tee-compile-someoneelse-build']);
      expect(agent.logs.filter((l) => l.msg === 'terminated an orphaned enclave')).toHaveLength(1);
    } finally {
      await agent.stop();
      await removeDir(dataDir);
    }
  });
});
