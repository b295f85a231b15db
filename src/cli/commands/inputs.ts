/**
 * `tee-compile inputs [dir]`: the build inputs of a checkout as an enclave would record them —
 * source commit and tree, locked dependencies, and the input Merkle root.
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BuildConfig, LockedDependency } from '../../provenance/index.js';
import {
  buildConfigDigest,
  inputMerkleRoot,
  isPinned,
  isProvenanceError,
} from '../../provenance/index.js';
import { LANGUAGES, type Language } from '../../contracts/index.js';
import {
  detectLanguage,
  enclaveNpmPlatform,
  readBuildConfig,
  readGitSource,
  readLockedDependencies,
} from '../../provenance/node.js';
import type { CliIo } from '../io.js';
import { CommandError, EXIT_OK, UsageError, writeLine } from '../io.js';

const USAGE = `usage: tee-compile inputs [dir] [--json] [--config <file>] [--language rust|node|go]

Prints what a build of <dir> (default: the current directory) would take as inputs: the
committed source (commit and tree ids), the locked dependencies with their lockfile checksums,
and the input Merkle root the enclave records in the provenance. Only the commit is built:
uncommitted changes are reported, not included.

  --json               machine-readable output
  --config <file>      build.json to use (default: <dir>/build.json)
  --language <lang>    language when there is no build.json (default: detected from the files)`;

interface DependencyLine {
  name: string;
  version: string;
  purl: string;
  digest: string | null;
  kind: LockedDependency['kind'];
  pinned: boolean;
  goModDigest?: string;
  source?: string;
}

function depLine(d: LockedDependency): DependencyLine {
  const line: DependencyLine = {
    name: d.name,
    version: d.version,
    purl: d.purl,
    digest: d.digest,
    kind: d.kind,
    pinned: isPinned(d),
  };
  if (d.goModDigest !== undefined) line.goModDigest = d.goModDigest;
  if (d.source !== undefined) line.source = d.source;
  return line;
}

/** `tee-compile inputs`. */
export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      config: { type: 'string' },
      language: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    writeLine(io.stdout, USAGE);
    return EXIT_OK;
  }
  if (positionals.length > 1) throw new UsageError('expected at most one directory');
  if (values.language !== undefined && !LANGUAGES.includes(values.language as Language)) {
    throw new UsageError(`--language must be one of ${LANGUAGES.join(', ')}`);
  }
  const dir = resolve(io.cwd, positionals[0] ?? '.');
  try {
    const configFile =
      values.config !== undefined ? resolve(io.cwd, values.config) : resolve(dir, 'build.json');
    let config: BuildConfig | null = null;
    if (values.config !== undefined || existsSync(configFile)) {
      config = await readBuildConfig(configFile);
    }
    const language: Language | null =
      config?.language ?? (values.language as Language | undefined) ?? (await detectLanguage(dir));
    if (language === null) {
      throw new UsageError(
        `cannot tell the language of ${dir}: add a build.json or pass --language rust|node|go`,
      );
    }
    if (config !== null && values.language !== undefined && values.language !== config.language) {
      throw new UsageError(
        `--language ${values.language} contradicts build.json's language ${config.language}`,
      );
    }
    const source = await readGitSource(dir, { allowDirty: true, env: io.env });
    const workdir = source.workdir ?? '.';
    // As a build would list them: for the enclave's machine.
    const deps = await readLockedDependencies(dir, language, {
      workdir,
      platform: enclaveNpmPlatform(),
    });
    const root = config === null ? null : inputMerkleRoot(source, config, deps, workdir);
    if (values.json) {
      const out = {
        source: {
          commit: source.commit,
          tree: source.tree,
          dirty: source.dirty,
          objectFormat: source.objectFormat,
          repository: source.repository ?? null,
        },
        workdir,
        language,
        config: config === null ? null : { sha256: buildConfigDigest(config) },
        dependencies: deps.map(depLine),
        merkleRoot: root,
      };
      writeLine(io.stdout, JSON.stringify(out, null, 2));
      return EXIT_OK;
    }
    const unpinned = deps.filter((d) => !isPinned(d));
    writeLine(io.stdout, `source       ${source.repository ?? '(no origin remote)'}`);
    writeLine(io.stdout, `commit       ${source.commit ?? '-'}`);
    writeLine(io.stdout, `tree         ${source.tree} (${source.objectFormat})`);
    if (source.dirty) {
      writeLine(
        io.stdout,
        'dirty        yes: uncommitted or untracked changes are NOT part of the build',
      );
    }
    writeLine(io.stdout, `workdir      ${workdir}`);
    writeLine(io.stdout, `language     ${language}`);
    writeLine(
      io.stdout,
      `build.json   ${config === null ? 'none' : `sha256 ${buildConfigDigest(config)}`}`,
    );
    writeLine(
      io.stdout,
      `dependencies ${deps.length}${unpinned.length > 0 ? ` (${unpinned.length} UNPINNED)` : ''}`,
    );
    const width = Math.min(
      48,
      Math.max(0, ...deps.map((d) => d.name.length + d.version.length + 1)),
    );
    for (const d of deps) {
      const id = `${d.name} ${d.version}`.padEnd(width);
      const pin = isPinned(d)
        ? (d.digest ?? `go.mod ${d.goModDigest ?? ''}`)
        : `UNPINNED (${d.kind}${d.source === undefined ? '' : `: ${d.source}`})`;
      writeLine(io.stdout, `  ${id}  ${pin}`);
    }
    if (unpinned.length > 0) {
      writeLine(
        io.stdout,
        'unpinned dependencies are refused unless build.json sets "allowUnpinnedDependencies": true',
      );
    }
    writeLine(
      io.stdout,
      `merkle root  ${root ?? 'none (needs a build.json: the build configuration is a leaf)'}`,
    );
    return EXIT_OK;
  } catch (err) {
    if (isProvenanceError(err)) throw new CommandError(err.code, err.message, err.path);
    throw err;
  }
}
