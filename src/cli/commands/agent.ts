/**
 * `tee-compile agent`: the long-running build service of an enclave host (src/agent). Settings
 * come from a configuration file and flags (flags win); logs are JSON lines on stderr.
 *
 * Signals: the first SIGTERM/SIGINT stops accepting jobs, gives running builds the grace period
 * (`shutdownGraceSeconds`) to finish, then stops their enclaves and marks them failed; queued jobs
 * stay queued on disk for the next start. A second signal cuts the grace period short.
 */
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { agentCacheDir } from '../../agent/index.js';
import { AgentError } from '../../agent/index.js';
import type { AgentConfigFile } from '../../agent/index.js';
import { openAgentBuilderKey } from '../../agent/index.js';
import { readConfigFile, resolveSettings } from '../../agent/index.js';
import { readTokenFile } from '../../agent/index.js';
import { createLogger } from '../../agent/index.js';
import { PipelineExecutor } from '../../agent/index.js';
import { startAgent } from '../../agent/index.js';
import { createBackend } from '../../enclave/index.js';
import { detectThreadsPerCore } from '../../enclave/index.js';
import { backendSizing } from '../../agent/index.js';
import { loadImageCatalog } from '../../catalog/node.js';
import type { HostBuilderKey } from '../../kms/node.js';
import { TeeCompileError } from '../../errors.js';
import type { CliIo } from '../io.js';
import { EXIT_OK, EXIT_USAGE, UsageError, writeLine } from '../io.js';

const USAGE = `usage: tee-compile agent [--backend nitro|local] [--listen 127.0.0.1:8723] [--data-dir <dir>]
    [--token-file <file>] [--max-concurrent <n>] [--single-build] [--sealed-key <file>]
    [--config <file>]

Runs the build service of an enclave host: an HTTP API (POST /build, GET /build/{id},
/build/{id}/events, /build/{id}/result, DELETE /build/{id}, /health, /metrics) that builds each
submitted source in a fresh, single-use enclave and serves the attested bundle.

  --backend nitro|local    nitro: AWS Nitro Enclaves through nitro-cli (default); local: a
                           sandboxed process attesting with the software NSM (SIMULATED)
  --listen <host:port>     address to listen on (default 127.0.0.1:8723; port 0: any free port)
  --data-dir <dir>         where jobs, results and caches are kept (required here or in --config)
  --token-file <file>      require "Authorization: Bearer <token>" with the token in this file
  --max-concurrent <n>     jobs running at once (default 2; enclaves are also bounded by the
                           host's capacity)
  --single-build           accept one build in the agent's life, then exit once its result
                           has been fetched
  --sealed-key <file>      sign every build's provenance with this host's KMS-sealed builder
                           key (builder-key.json; see docs/builder-key.md)
  --config <file>          JSON settings (see docs/agent.md); flags override it

Logs are JSON lines on stderr. SIGTERM/SIGINT: stop accepting, let running builds finish within
the grace period, then stop them; a second signal stops at once.`;

/** Time given to the last response before a single-build agent exits. */
const SINGLE_BUILD_EXIT_DELAY_MS = 1000;

/** \`tee-compile agent\`. */
export async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      backend: { type: 'string' },
      listen: { type: 'string' },
      'data-dir': { type: 'string' },
      'token-file': { type: 'string' },
      'max-concurrent': { type: 'string' },
      'single-build': { type: 'boolean' },
      'sealed-key': { type: 'string' },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    writeLine(io.stdout, USAGE);
    return EXIT_OK;
  }
  let settings;
  let file: AgentConfigFile = {};
  try {
    if (values.config !== undefined) file = await readConfigFile(resolve(io.cwd, values.config));
    settings = await resolveSettings(
      file,
      {
        ...(values.backend !== undefined ? { backend: values.backend } : {}),
        ...(values.listen !== undefined ? { listen: values.listen } : {}),
        ...(values['data-dir'] !== undefined ? { dataDir: values['data-dir'] } : {}),
        ...(values['token-file'] !== undefined ? { tokenFile: values['token-file'] } : {}),
        ...(values['max-concurrent'] !== undefined
          ? { maxConcurrent: values['max-concurrent'] }
          : {}),
        ...(values['single-build'] !== undefined ? { singleBuild: values['single-build'] } : {}),
        ...(values['sealed-key'] !== undefined ? { sealedKey: values['sealed-key'] } : {}),
      },
      { cwd: io.cwd },
    );
  } catch (err) {
    if (err instanceof AgentError) throw new UsageError(err.message);
    throw err;
  }
  const log = createLogger(io.stderr, settings.logLevel);
  let builderKey: HostBuilderKey | undefined;
  try {
    builderKey = await openAgentBuilderKey(settings.builderKey, io.env);
    if (builderKey === undefined) log.info('no sealed builder key: builds are not signed');
    else log.info('builder key', { fingerprint: builderKey.fingerprint });
    const token = settings.tokenFile === null ? null : await readTokenFile(settings.tokenFile);
    if (token?.worldReadable)
      log.warn('the token file can be read by other users', { token_file: settings.tokenFile });
    if (token === null && !['127.0.0.1', '::1', 'localhost'].includes(settings.listen.host))
      log.warn('no token file: anyone who can reach this address can submit builds', {
        listen: `${settings.listen.host}:${settings.listen.port}`,
      });
    const catalog = await loadImageCatalog();
    const workerEntry = io.env.TEE_COMPILE_WORKER;
    const backend = createBackend(settings.backend, {
      catalog,
      env: io.env,
      log: (message) => log.info(message, { backend: settings.backend }),
      local: {
        // Its own state directory: orphan cleanup then only ever touches this agent's sandboxes.
        stateDir: join(settings.dataDir, 'local-backend'),
        ...settings.local,
        ...(workerEntry ? { workerEntry } : {}),
      },
      // The backend refuses what cannot fit in the pool; the agent's budget makes builds wait
      // for it instead.
      nitro: {
        dataDir: settings.dataDir,
        pool: { cpus: settings.capacity.cpus, memoryMiB: settings.capacity.memoryMiB },
        ...settings.nitro,
      },
    });
    // nitro gives enclaves whole cores: the budget counts what is really taken.
    const threads = settings.backend === 'nitro' ? await detectThreadsPerCore() : 1;
    const sizing = backendSizing(backend, threads);
    const executor = new PipelineExecutor({
      catalog,
      cacheDir: agentCacheDir(settings.dataDir),
      env: io.env,
      ...(builderKey !== undefined ? { builderKey } : {}),
    });
    const running = await startAgent({
      settings,
      backend,
      executor,
      logger: log,
      token,
      ...(settings.backend === 'nitro' ? { sizing } : {}),
    });
    await new Promise<void>((resolve) => {
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals): void => {
        signals++;
        if (signals === 1) {
          log.info('stopping', { signal: sig });
          void running.stop().then(resolve);
        } else {
          log.warn('stopping now: running builds are stopped', { signal: sig });
          running.agent.hurryShutdown();
        }
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      void running.agent.singleBuildServed.then(() => {
        log.info('single build served; exiting');
        setTimeout(() => {
          signals++;
          void running.stop().then(resolve);
        }, SINGLE_BUILD_EXIT_DELAY_MS);
      });
    });
    return EXIT_OK;
  } catch (err) {
    if (err instanceof TeeCompileError) {
      log.error('cannot run the agent', {
        code: String((err as TeeCompileError).code),
        error: err.message,
        field: err.path,
      });
      return EXIT_USAGE;
    }
    throw err;
  } finally {
    builderKey?.close();
  }
}
