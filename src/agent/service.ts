/**
 * Starting and stopping a whole agent: data directory, recovery, HTTP server.
 */
import type { Server } from 'node:http';
import type { EnclaveBackend, EnclaveSpec } from '../enclave/index.js';
import type { ResourceRequest } from './resources.js';
import { Agent } from './agent.js';
import type { TokenCheck } from './auth.js';
import type { AgentSettings } from './config.js';
import type { BuildExecutor } from './executor.js';
import type { Logger } from './log.js';
import { createAgentServer, listen } from './server.js';

/** A running agent. */
export interface RunningAgent {
  agent: Agent;
  server: Server;
  /** Base URL it listens on. */
  url: string;
  /**
   * Stops it per the shutdown policy: no new connections or jobs; running builds finish within
   * the grace period or are stopped; open event streams end; the data directory is released.
   */
  stop(): Promise<void>;
}

export interface StartOptions {
  settings: AgentSettings;
  backend: EnclaveBackend;
  executor: BuildExecutor;
  logger: Logger;
  token: TokenCheck | null;
  clock?: () => number;
  /** What the backend really takes for a spec (nitro: whole cores). */
  sizing?: (spec: EnclaveSpec) => ResourceRequest | Promise<ResourceRequest>;
}

/** Opens the data directory (recovering from the last run) and starts serving. */
export async function startAgent(o: StartOptions): Promise<RunningAgent> {
  const agent = await Agent.open({
    settings: o.settings,
    backend: o.backend,
    executor: o.executor,
    logger: o.logger,
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.sizing ? { sizing: o.sizing } : {}),
  });
  const server = createAgentServer({ agent, logger: o.logger, token: o.token });
  let url: string;
  try {
    url = await listen(server, o.settings.listen.host, o.settings.listen.port);
  } catch (err) {
    await agent.shutdown();
    throw err;
  }
  o.logger.info('listening', {
    url,
    backend: o.settings.backend,
    data_dir: o.settings.dataDir,
    auth: o.token ? 'bearer' : 'none',
    max_concurrent: o.settings.maxConcurrent,
    single_build: o.settings.singleBuild,
    capacity_enclaves: o.settings.capacity.enclaves,
    capacity_cpus: o.settings.capacity.cpus,
    capacity_memory_mib: o.settings.capacity.memoryMiB,
  });
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // New connections are refused at once; open ones stay so that event streams see the end.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await agent.shutdown();
      server.closeAllConnections();
      await closed;
      o.logger.info('stopped');
    })();
    return stopping;
  };
  return { agent, server, url, stop };
}
