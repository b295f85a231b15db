/**
 * The workspace layout and the build command's environment. Everything lives under the fixed
 * workspace path (the same for every build and in every image), so that two builds of the same
 * inputs see the same paths. The environment is built from scratch: only the toolchain's own
 * variables pass through from the worker's environment (the image's ENV, or the host's under the
 * local backend), never the host's secrets.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Directories of the workspace. */
export interface WorkspaceLayout {
  root: string;
  /** The source tree (its root is the repository root). */
  src: string;
  /** The received dependency set. */
  deps: string;
  /** The offline environment built from the verified dependencies. */
  verifiedDeps: string;
  home: string;
  tmp: string;
  cache: string;
  /** The bundle and other results. */
  out: string;
}

/** The layout under `workspace`. */
export function workspaceLayout(workspace: string): WorkspaceLayout {
  return {
    root: workspace,
    src: join(workspace, 'src'),
    // One directory for both (the local sandbox makes it a tmpfs): the set's files are moved,
    // not copied, into the verified environment, which needs one file system.
    deps: join(workspace, 'deps', 'set'),
    verifiedDeps: join(workspace, 'deps', 'verified'),
    home: join(workspace, 'home'),
    tmp: join(workspace, 'tmp'),
    cache: join(workspace, 'cache'),
    out: join(workspace, 'out'),
  };
}

/** Variables of the worker's environment that describe the toolchain, passed to the build. */
export const TOOLCHAIN_ENV = ['PATH', 'LANG', 'RUSTUP_HOME', 'RUSTUP_TOOLCHAIN', 'GOROOT'] as const;

/** The toolchain's variables from the worker's environment (`RUSTUP_HOME` found when implied). */
export function toolchainEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of TOOLCHAIN_ENV) {
    const v = env[k];
    if (v !== undefined) out[k] = v;
  }
  // rustup's proxies find their toolchains under $HOME/.rustup unless told: the build gets its
  // own HOME, so the location is made explicit.
  if (
    out.RUSTUP_HOME === undefined &&
    env.HOME !== undefined &&
    existsSync(join(env.HOME, '.rustup'))
  )
    out.RUSTUP_HOME = join(env.HOME, '.rustup');
  out.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  return out;
}

/**
 * The build command's environment, lowest precedence first: toolchain, workspace and offline
 * settings, the dependency set's variables, then build.json's `input.env` (recorded in the
 * provenance, so nothing it sets is hidden).
 */
export function buildEnvironment(o: {
  toolchain: Record<string, string>;
  layout: WorkspaceLayout;
  sourceDateEpoch: number;
  dependencies: Record<string, string>;
  config: Record<string, string>;
}): Record<string, string> {
  const { layout } = o;
  return {
    LANG: 'C.UTF-8',
    ...o.toolchain,
    TZ: 'UTC',
    HOME: layout.home,
    TMPDIR: layout.tmp,
    SOURCE_DATE_EPOCH: String(o.sourceDateEpoch),
    CI: 'true',
    // Offline, whatever the tools' defaults.
    CARGO_HOME: join(layout.home, '.cargo'),
    CARGO_NET_OFFLINE: 'true',
    CARGO_TERM_COLOR: 'never',
    GOPATH: join(layout.home, 'go'),
    GOCACHE: join(layout.cache, 'go-build'),
    GOMODCACHE: join(layout.home, 'go', 'pkg', 'mod'),
    GOPROXY: 'off',
    GOSUMDB: 'off',
    GOTOOLCHAIN: 'local',
    GOTELEMETRY: 'off',
    GOFLAGS: '-mod=readonly',
    npm_config_cache: join(layout.home, '.npm'),
    npm_config_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    ...o.dependencies,
    ...o.config,
  };
}
