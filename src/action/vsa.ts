/**
 * Verify mode's signed answer: the verdict as a SLSA Verification Summary (in-toto statement,
 * `https://slsa.dev/verification_summary/v1`) in a DSSE envelope, signed with the key of the
 * `vsa-key` input (a PKCS #8 EC P-256 PEM, e.g. from a secret) or the KMS key of `vsa-kms-key`
 * (KMS `Sign` with the job's AWS credentials), written to the runner's temp folder and uploaded:
 * onto the release being verified when the verdict passed, else as a workflow artifact.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TeeCompileError } from '../errors.js';
import type { VsaKey } from '../kms/node.js';
import { openVsaSigner } from '../kms/node.js';
import type { SetReport, TrustPolicy } from '../verify/index.js';
import { policyDigest, releaseAssetUrl, signVsa } from '../verify/index.js';
import type { RepoRef, RunContext } from './context.js';
import type { RunDeps } from './deps.js';
import { sha256Hex } from './digest.js';
import { ActionError } from './errors.js';
import type { Release } from './github.js';
import { VSA_ARTIFACT_NAME, VSA_SUFFIX, safeAssetName } from './naming.js';

/** Version written as the verifier's in VSAs (the CLI's, kept equal to package.json's). */
const VSA_VERIFIER_VERSION = '0.1.0';

/** Where the signed VSA went. */
export interface EmittedVsa {
  path: string;
  sha256: string;
  /** The release asset's download URL, or the workflow artifact's name. */
  location: string;
  uploadedTo: 'release' | 'artifact';
}

/**
 * Signs the VSA of `report` (its `ok` is the step's verdict, asset checks included), writes it to
 * `<runner temp>/tee-compile-vsa/` and uploads it (see the module comment). A key KMS refuses or
 * that is not a P-256 key is `VSA_SIGNING_FAILED`.
 */
export async function emitVsa(
  o: {
    key: VsaKey;
    report: SetReport;
    policy: TrustPolicy;
    policyUri: string;
    context: RunContext;
    repository: RepoRef;
    release: Release | null;
  },
  deps: RunDeps,
): Promise<EmittedVsa> {
  let opened: Awaited<ReturnType<typeof openVsaSigner>>;
  try {
    opened = await openVsaSigner(o.key, deps.env);
  } catch (e) {
    throw signingFailed(e);
  }
  let bytes: Uint8Array;
  try {
    bytes = await signVsa(
      {
        report: o.report,
        policyUri: o.policyUri,
        policySha256: await policyDigest(o.policy),
        time: new Date(deps.now()).toISOString(),
        version: VSA_VERIFIER_VERSION,
      },
      opened.signer,
    );
  } catch (e) {
    throw signingFailed(e);
  } finally {
    opened.close();
  }
  const onRelease = o.release !== null && o.report.ok;
  const name = safeAssetName(
    `${o.repository.repo}-${o.release?.tagName ?? o.context.sha.slice(0, 12)}${VSA_SUFFIX}`,
  );
  const dir = join(o.context.runnerTemp, 'tee-compile-vsa');
  await mkdir(dir, { recursive: true });
  const path = join(dir, name);
  await writeFile(path, bytes);
  const sha256 = sha256Hex(bytes);
  if (onRelease) {
    const release = o.release!;
    const old = (await deps.github.listAssets(o.repository, release.id)).find(
      (a) => a.name === name,
    );
    if (old !== undefined) await deps.github.deleteAsset(o.repository, old.id);
    await deps.github.uploadAsset(release, name, bytes, 'application/json');
    deps.log.info(`signed VSA attached to release ${release.tagName} as ${name}`);
    return {
      path,
      sha256,
      location: releaseAssetUrl(o.context.serverUrl, o.repository, release.tagName, name),
      uploadedTo: 'release',
    };
  }
  await deps.artifacts.upload(VSA_ARTIFACT_NAME, [path], dir);
  deps.log.info(`signed VSA uploaded as the workflow artifact ${VSA_ARTIFACT_NAME}`);
  return { path, sha256, location: VSA_ARTIFACT_NAME, uploadedTo: 'artifact' };
}

function signingFailed(e: unknown): ActionError {
  if (!(e instanceof TeeCompileError)) throw e;
  return new ActionError(
    'VSA_SIGNING_FAILED',
    `the VSA could not be signed: ${String((e as TeeCompileError).code)}: ${e.message}`,
    {
      cause: e,
    },
  );
}
