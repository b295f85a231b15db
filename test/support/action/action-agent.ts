/**
 * An agent for action tests, on loopback. By default the real one, served by the built CLI
 * (`tee-compile agent --backend local`: real enclave pipeline, software NSM); when it cannot be
 * started, that is an error, never a silent substitute. Tests that need several attesting
 * identities (a matrix of builders) or stage the agent's behaviour ask for the in-process one
 * explicitly (`inProcess: true`): the real agent service with an executor that builds the way a
 * worker does (the committed tree's commit and tree from its `.git`, the build command run in the
 * job's workdir, the outputs matched by `output.files`) and attests with a simulated builder from
 * the bundle factory, which records the job's repository but no workdir. Either way the action
 * talks to the agent's real HTTP API.
 */
import { execFile, spawnSync } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join, posix, relative } from 'node:path';
import picomatch from 'picomatch';
import type {
  BuildContext,
  BuildExecutor,
  BuildJob,
  BuildOutcome,
} from '../../../src/agent/executor.js';
import { TeeCompileError } from '../../../src/errors.js';
import { parseBuildConfig } from '../../../src/provenance/index.js';
import { StandInBackend } from '../agent/agent-fakes.js';
import type { AgentProcess } from '../agent/agent-harness.js';
import {
  TEST_TOKEN,
  removeDir,
  spawnAgent,
  startTestAgent,
  tempDir,
} from '../agent/agent-harness.js';
import type { SimulatedBuilder } from '../bundles/bundle-factory.js';
import { BUILDERS, makeBundle } from '../bundles/bundle-factory.js';
import { BIN } from '../cli/cli.js';
import { cliEnv } from '../processes/sandbox-worker.js';

/** A running agent for the action. */
export interface ActionAgent {
  url: string;
  token: string;
  kind: 'cli' | 'in-process';
  /** The agent's log lines (JSON), for messages when a test fails. */
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

/**
 * Why the built CLI cannot serve `tee-compile agent` (the real agent with the local backend), or
 * null when it can.
 */
export function realAgentUnavailable(): string | null {
  const r = spawnSync(process.execPath, [BIN, 'agent', '--help'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.error !== undefined) return `\`tee-compile agent --help\` did not run: ${r.error.message}`;
  if (r.status === 0 && /--backend/.test(r.stdout + r.stderr)) return null;
  const said = (r.stderr || r.stdout).trim().slice(0, 2000);
  return `\`tee-compile agent --help\` exited ${r.status ?? r.signal ?? '?'}${said === '' ? '' : `:\n${said}`}`;
}

class BuildCommandFailed extends TeeCompileError<'WORKER_BUILD_FAILED'> {}

function run(cmd: string, args: string[], cwd: string, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, signal, maxBuffer: 1 << 24 }, (err, stdout, stderr) =>
      err === null
        ? resolve(stdout)
        : reject(
            new BuildCommandFailed(
              'WORKER_BUILD_FAILED',
              `${cmd} failed: ${stderr || err.message}`,
            ),
          ),
    );
  });
}

async function walk(root: string, dir = root): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name === '.git') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(root, p)));
    else if (e.isFile()) out.push(relative(root, p));
  }
  return out.sort();
}

/** Builds like a worker (without an enclave) and attests as a simulated builder. */
export class FactoryExecutor implements BuildExecutor {
  readonly jobs: BuildJob[] = [];
  constructor(private readonly builder: SimulatedBuilder) {}

  async run(job: BuildJob, ctx: BuildContext): Promise<BuildOutcome> {
    this.jobs.push(job);
    // The build runs where build.json is; outputs are named relative to it.
    const dir = join(job.sourceDir, job.workdir);
    const raw: unknown =
      job.config ?? (JSON.parse(await readFile(join(dir, 'build.json'), 'utf8')) as unknown);
    const config = parseBuildConfig(raw);
    ctx.onProgress({ kind: 'phase', phase: 'checking inputs' });
    const commit = (await run('git', ['rev-parse', 'HEAD'], job.sourceDir)).trim();
    const tree = (await run('git', ['rev-parse', 'HEAD^{tree}'], job.sourceDir)).trim();
    ctx.onProgress({ kind: 'log', stream: 'stderr', text: `commit ${commit}, tree ${tree}` });
    ctx.onProgress({ kind: 'phase', phase: 'building' });
    const log = await run('bash', ['-c', config.input.cmd], dir, ctx.signal);
    if (log !== '') ctx.onProgress({ kind: 'log', stream: 'stdout', text: log });
    ctx.onProgress({ kind: 'phase', phase: 'attesting' });
    const matchers = config.output.files.map((g) => picomatch(g));
    const outputs: Record<string, Uint8Array> = {};
    // Matched in the workdir, named from the source root, as the worker names them.
    for (const f of await walk(dir))
      if (matchers.some((m) => m(f)))
        outputs[job.workdir === '.' ? f : posix.join(job.workdir, f)] = new Uint8Array(
          await readFile(join(dir, f)),
        );
    const made = await makeBundle({
      builder: this.builder,
      language: config.language,
      outputs,
      commit,
      tree,
      repository: job.repository,
      nonce: job.nonce,
      at: Date.now() - 1000,
      log: `${log}built by ${this.builder.name}\n`,
    });
    await writeFile(job.bundleFile, made.bytes);
    return {
      bundleFile: job.bundleFile,
      subjects: made.statement.subject.map((s) => ({ name: s.name, sha256: s.digest.sha256 })),
      source: { commit, tree },
    };
  }
}

export interface ActionAgentOptions {
  /** The simulated builder (in-process agent). Default the first of the bundle factory. */
  builder?: SimulatedBuilder;
  /** The in-process agent instead of the real one (see the module comment). */
  inProcess?: boolean;
}

/** Starts an agent (see the module comment); throws when the real one cannot be started. */
export async function startActionAgent(o: ActionAgentOptions = {}): Promise<ActionAgent> {
  if (o.inProcess !== true) {
    const why = realAgentUnavailable();
    if (why !== null)
      throw new Error(
        `the real agent (the built CLI's \`tee-compile agent --backend local\`) cannot be started: ${why}\nBuild the CLI (npm run build); tests that mean to use the in-process agent ask for it with inProcess: true.`,
      );
    const dir = await tempDir('action-agent-');
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, TEST_TOKEN + '\n', { mode: 0o600 });
    const p: AgentProcess = await spawnAgent(
      [
        '--backend',
        'local',
        '--listen',
        '127.0.0.1:0',
        '--data-dir',
        join(dir, 'data'),
        '--token-file',
        tokenFile,
      ],
      // The worker as the enclave images ship it (one bundled file).
      await cliEnv(),
    );
    return {
      url: p.url,
      token: TEST_TOKEN,
      kind: 'cli',
      logs: p.logs,
      stop: async () => {
        p.child.kill('SIGTERM');
        await p.exited;
        await removeDir(dir);
      },
    };
  }
  const agent = await startTestAgent({
    executor: new FactoryExecutor(o.builder ?? BUILDERS[0]!),
    backend: new StandInBackend(),
  });
  return {
    url: agent.url,
    token: TEST_TOKEN,
    kind: 'in-process',
    logs: agent.logs,
    stop: async () => {
      await agent.stop();
      await removeDir(agent.dataDir);
    },
  };
}

/** The state of an agent job (`GET /build/{id}`); a failure to ask carries the agent's last logs. */
export async function agentJobState(agent: ActionAgent, jobId: string): Promise<string> {
  try {
    const res = await fetch(`${agent.url}/build/${jobId}`, {
      headers: { Authorization: `Bearer ${agent.token}` },
    });
    return ((await res.json()) as { state: string }).state;
  } catch (e) {
    throw new Error(
      `cannot read job ${jobId} from the agent (${(e as Error).message}); its last logs:\n${agent.logs
        .slice(-20)
        .map((l) => JSON.stringify(l))
        .join('\n')}`,
      { cause: e },
    );
  }
}
