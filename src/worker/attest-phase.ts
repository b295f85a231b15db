/**
 * The last phase of a build: the outputs are hashed, the provenance is written and attested
 * (user_data = SHA-256 of provenance.json, nonce = the client's; a sealed builder key signs it
 * first when the request asks), and the bundle is written for the client.
 */
import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { NsmError } from '../attestation/index.js';
import { writeBundle } from '../bundle/node.js';
import type {
  BuildConfig,
  LockedDependency,
  ResourceDescriptor,
  SourceIdentity,
} from '../provenance/index.js';
import { buildStatement, serializeStatement } from '../provenance/index.js';
import type { BuildOutcome, BuildReporter, ReceivedBuild } from '../protocol/index.js';
import { WorkerError } from '../protocol/index.js';
import { fromHex } from '../util/hex.js';
import type { CommandResult } from './command.js';
import type { WorkerContext } from './context.js';
import type { WorkspaceLayout } from './environment.js';
import type { GitWorkspace } from './git-workspace.js';
import { collectOutputs } from './outputs.js';
import type { PhaseTimer } from './phase-timer.js';
import type { ToolchainFound } from './run-phase.js';
import { signProvenance, unsealBuilderKey } from './signing.js';

/** What the attestation records, from the phases before it. */
export interface AttestInputs {
  startedOn: Date;
  config: BuildConfig;
  source: SourceIdentity;
  origin: ResourceDescriptor[];
  git: GitWorkspace | null;
  dependencies: LockedDependency[];
  result: CommandResult;
  toolchainFound: Promise<ToolchainFound>;
}

export function sha256(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(b).digest());
}

/** Collects the outputs, writes and attests the provenance, and writes the bundle. */
export async function attestAndBundle(
  ctx: WorkerContext,
  build: ReceivedBuild,
  report: BuildReporter,
  timer: PhaseTimer,
  layout: WorkspaceLayout,
  inputs: AttestInputs,
): Promise<BuildOutcome> {
  const { config, source, origin, git, dependencies, result } = inputs;
  timer.next('collecting-outputs');
  report.phase('collecting-outputs');
  const outputs = await collectOutputs(layout.src, build.request.workdir, config.output.files);
  const found = await inputs.toolchainFound;
  if (!found.ok)
    throw new WorkerError(
      'WORKER_INTERNAL',
      `cannot identify the toolchain: ${(found.e as Error).message}`,
      {
        cause: found.e,
      },
    );
  const toolchain = found.t;
  const facts = await ctx.facts().catch((e: unknown) => {
    throw new WorkerError('ATTESTATION_FAILED', `the NSM cannot be used: ${(e as Error).message}`, {
      cause: e,
    });
  });
  const statement = buildStatement({
    source,
    config,
    workdir: build.request.workdir,
    dependencies,
    toolchain,
    outputs: outputs.map((o) => ({ name: o.name, sha256: o.sha256 })),
    image: {
      name: ctx.image.name,
      version: ctx.image.version,
      language: ctx.image.language,
      ...facts.pcrs,
    },
    nonce: build.request.nonce,
    isolation: facts.isolation,
    nsm: facts.nsmInfo,
    backend: ctx.backend,
    builderVersion: ctx.builderVersion,
    invocationId: randomUUID(),
    startedOn: inputs.startedOn,
    finishedOn: new Date(),
    buildLogSha256: createHash('sha256').update(result.log).digest('hex'),
    byproducts: origin,
    ...(git !== null ? { workspace: { git: git.record } } : {}),
    timings: timer.done(),
  });
  const provenance = serializeStatement(statement);

  // A sealed builder key: unsealed only now that the build command has exited.
  let signed: { envelope: Uint8Array; publicKey: Uint8Array } | undefined;
  if (build.request.signing !== undefined) {
    report.phase('attesting', 'unsealing the builder key');
    const signer = await unsealBuilderKey(facts.nsm, build, provenance);
    signed = { envelope: await signProvenance(signer, provenance), publicKey: signer.spki };
  }
  report.phase('attesting');
  let attestation: Uint8Array;
  try {
    attestation = await facts.nsm.attest({
      userData: sha256(provenance),
      nonce: fromHex(build.request.nonce, 'nonce'),
      // The document vouches for the key the envelope was signed with.
      ...(signed !== undefined ? { publicKey: signed.publicKey } : {}),
    });
  } catch (e) {
    if (e instanceof NsmError || (e as { code?: unknown }).code !== undefined)
      return {
        ok: false,
        error: new WorkerError(
          'ATTESTATION_FAILED',
          `the NSM did not attest: ${(e as Error).message}`,
          { cause: e },
        ),
      };
    throw e;
  }
  const bundleFile = join(layout.out, 'bundle.tar.gz');
  const written = await writeBundle(bundleFile, {
    provenance,
    ...(signed !== undefined ? { envelope: signed.envelope } : {}),
    attestation,
    log: new Uint8Array(result.log.buffer, result.log.byteOffset, result.log.length),
    artifacts: outputs.map((o) => ({ name: o.name, file: o.file, executable: o.executable })),
  });
  return {
    ok: true,
    bundleFile,
    bundleSize: written.bytes,
    subjects: outputs.map((o) => ({ name: o.name, sha256: o.sha256 })),
  };
}
