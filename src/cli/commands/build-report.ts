/**
 * What `tee-compile build` says: progress to stderr, the result to stdout (or as JSON), and a
 * failure with its code (one that is the caller's to fix is a usage error, exit 2).
 */
import { isArchiveError } from '../../archive/index.js';
import { isAttestationError } from '../../attestation/index.js';
import { isBundleError } from '../../bundle/index.js';
import type { BuildEvent, BuildResult, PhaseClock } from '../../client/index.js';
import { formatTimings } from '../../client/index.js';
import { ImageCatalogError } from '../../catalog/index.js';
import { isEnclaveError } from '../../enclave/index.js';
import { TeeCompileError } from '../../errors.js';
import { isKmsError } from '../../kms/index.js';
import { isProvenanceError } from '../../provenance/index.js';
import { isProtocolError, isWorkerError } from '../../protocol/index.js';
import type { CliIo } from '../io.js';
import { CommandError, EXIT_REFUSED, writeLine } from '../io.js';

const EXIT_CODES_USAGE = new Set(['SOURCE_NOT_GIT', 'CONFIG_MISSING', 'CATALOG_UNREADABLE']);

/** Writes progress to stderr: phases, the build log, and what the enclave is. */
export function progress(io: CliIo, clock: PhaseClock): (e: BuildEvent) => void {
  const say = (s: string): void => writeLine(io.stderr, `tee-compile: ${s}`);
  return (e) => {
    const ended = clock.event(e);
    if (ended !== undefined) say(`(${ended.ended} took ${(ended.ms / 1000).toFixed(2)} s)`);
    switch (e.type) {
      case 'prepared':
        say(
          `source ${e.source.repository ?? '(no remote)'} commit ${e.source.commit ?? '-'} tree ${e.source.tree}` +
            (e.workdir === '.' ? '' : ` (workdir ${e.workdir})`),
        );
        if (e.source.dirty)
          say('the work tree has uncommitted changes: building the committed tree only');
        say(`${e.language}, ${e.dependencies} locked dependencies, ${e.inputBytes} bytes of input`);
        break;
      case 'enclave':
        if (e.state === 'running' && e.isolation)
          say(
            `enclave ${e.id ?? ''} running (${e.isolation.backend}: network ${e.isolation.network}, filesystem ${e.isolation.filesystem}, memory ${e.isolation.memory})`,
          );
        break;
      case 'phase':
        say(`${e.phase}${e.detail && e.phase !== 'building' ? `: ${e.detail}` : ''}`);
        break;
      case 'log':
        for (const l of e.lines) writeLine(io.stderr, `  | ${l}`);
        break;
      default:
        break;
    }
  };
}

export function printResult(
  io: CliIo,
  r: BuildResult,
  json: boolean,
  timings: ReturnType<PhaseClock['finish']>,
): void {
  if (!json) writeLine(io.stderr, `tee-compile: timings: ${formatTimings(timings)}`);
  if (json) {
    writeLine(
      io.stdout,
      JSON.stringify(
        {
          bundle: r.bundle.path,
          bundleSha256: r.bundle.sha256,
          subjects: r.subjects.map((s) => ({ name: s.name, digest: { sha256: s.sha256 } })),
          source: {
            repository: r.source.repository,
            commit: r.source.commit,
            tree: r.source.tree,
            workdir: r.source.workdir,
          },
          nonce: r.nonce,
          image: r.image,
          builder: { pcr3: r.builderPcr3, key: r.builderKey },
          simulated: r.simulated,
          isolation: r.isolation,
          timings,
        },
        null,
        2,
      ),
    );
    return;
  }
  for (const s of r.subjects) writeLine(io.stdout, `sha256:${s.sha256}  ${s.name}`);
  writeLine(io.stdout, `bundle  ${r.bundle.path}`);
  writeLine(io.stdout, `source  ${r.source.commit ?? '-'} (tree ${r.source.tree})`);
  writeLine(io.stdout, `nonce   ${r.nonce}`);
  writeLine(
    io.stdout,
    `image   ${r.image.name}@${r.image.version}${r.simulated ? ' (SIMULATED: software NSM, not Nitro hardware)' : ''}`,
  );
  writeLine(
    io.stdout,
    `signed  ${r.builderKey === null ? 'no builder signature' : `builder key ${r.builderKey} (provenance.dsse.json)`}`,
  );
}

/**
 * Prints a failure; returns the exit status. One that is the caller's to fix (exit 2) is thrown as
 * a CommandError, printed by `main` (as JSON too with --json).
 */
export function failure(io: CliIo, err: unknown): number {
  if (!(err instanceof TeeCompileError)) {
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code))
      throw new CommandError('IO_ERROR', (err as Error).message);
    throw err;
  }
  const known =
    isWorkerError(err) ||
    isProtocolError(err) ||
    isEnclaveError(err) ||
    isProvenanceError(err) ||
    isArchiveError(err) ||
    isBundleError(err) ||
    isAttestationError(err) ||
    isKmsError(err) ||
    err instanceof ImageCatalogError;
  if (!known) throw err;
  if (EXIT_CODES_USAGE.has(err.code))
    throw new CommandError(
      err.code,
      `${err.code}${err.path ? ` (${err.path})` : ''}: ${err.message}`,
      err.path,
    );
  writeLine(
    io.stderr,
    `tee-compile build: ${err.code}${err.path ? ` (${err.path})` : ''}: ${err.message}`,
  );
  if (isWorkerError(err) && err.logTail && err.logTail.length > 0) {
    writeLine(io.stderr, 'tee-compile build: last lines of the build log:');
    for (const l of err.logTail) writeLine(io.stderr, `  | ${l}`);
  }
  return EXIT_REFUSED;
}
