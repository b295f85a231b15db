/**
 * The agent with the real pipeline for end-to-end tests: the local backend (sandboxed worker,
 * software NSM) with its state inside the agent's data directory, the PipelineExecutor over
 * `runBuild`, and verification of results with the real verifier (`--allow-simulated`).
 */
import { join } from 'node:path';
import { PipelineExecutor } from '../../../src/agent/pipeline-executor.js';
import { loadImageCatalog } from '../../../src/catalog/node.js';
import type { BundleVerified } from '../../../src/verify/index.js';
import { verifyBundle } from '../../../src/verify/index.js';
import { loadTrustPolicy } from '../../../src/verify/node.js';
import { openAgentBuilderKey } from '../../../src/agent/builder-key.js';
import type { AgentConfigFile } from '../../../src/agent/config.js';
import { resolveSettings } from '../../../src/agent/config.js';
import type { TestAgent } from './agent-harness.js';
import { startTestAgent, tempDir } from './agent-harness.js';
import { sandboxBackend } from '../processes/sandbox-worker.js';

/**
 * Starts an in-process agent building with the real pipeline and the local backend. A
 * `builderKey` in `config` is opened as `tee-compile agent` opens it, its KMS client configured
 * from `env` (credentials; the endpoint is the config's).
 */
export async function startPipelineAgent(
  config: AgentConfigFile = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<TestAgent> {
  const dataDir = await tempDir('tc-agent-e2e-');
  const catalog = await loadImageCatalog();
  const settings = await resolveSettings({ ...config, dataDir }, {}, { cwd: process.cwd() });
  const builderKey = await openAgentBuilderKey(settings.builderKey, env);
  const agent = await startTestAgent({
    dataDir,
    backend: await sandboxBackend({ stateDir: join(dataDir, 'local-backend') }),
    executor: new PipelineExecutor({
      catalog,
      cacheDir: join(dataDir, 'cache'),
      ...(builderKey !== undefined ? { builderKey } : {}),
    }),
    config,
  });
  return {
    ...agent,
    stop: async () => {
      await agent.stop();
      builderKey?.close();
    },
  };
}

/** A go project without dependencies whose build runs `cmd` (the cheapest real build). */
export function goProject(cmd: string, outputs = ['out.txt']): Record<string, string> {
  return {
    'go.mod': 'module example.com/t\n\ngo 1.19\n',
    'build.json': JSON.stringify(
      { language: 'go', input: { cmd, env: {} }, output: { files: outputs } },
      null,
      2,
    ),
  };
}

/**
 * Verifies a bundle with the real verifier, simulation allowed, expecting `nonce` (and `commit`
 * and `repository`, the policy's `source.repository`, when given); throws with the refusal when it
 * does not verify.
 */
export async function verifyResult(
  bytes: Uint8Array,
  expect: { nonce: string; commit?: string; repository?: string },
): Promise<BundleVerified> {
  const policy = await loadTrustPolicy({
    flags: {
      nonce: expect.nonce,
      allowSimulated: true,
      ...(expect.commit ? { commit: expect.commit } : {}),
      ...(expect.repository ? { repository: expect.repository } : {}),
    },
  });
  const r = await verifyBundle(bytes, policy, { now: Date.now() });
  if (!r.ok)
    throw new Error(`bundle refused: ${r.code}${r.path ? ` (${r.path})` : ''}: ${r.message}`);
  return r;
}
