/**
 * A `build --local` of an SSH-signed annotated tag (real git and ssh-keygen), and `tee-compile
 * verify` on the bundles it makes: shared by the signed-source tests of `npm test` and test/long.
 */
import { join } from 'node:path';
import { cliBuildJson } from './build-cli.js';
import type { TestRepo } from '../source/build-repo.js';
import { goProject, makeRepo } from '../source/build-repo.js';
import { runCli } from './cli.js';
import type { TestSigner } from '../source/signing.js';
import { signedCommit, signedTag } from '../source/signing.js';

/** The bundle of a build of tag v1.0.0 of a commit that `signer` signed, as is the tag. */
export interface SignedTagBuild {
  bundle: string;
  commit: string;
  repo: TestRepo;
}

/** Builds tag v1.0.0, signed with `signer`, into `work`; the caller removes `repo`. */
export async function buildSignedTag(work: string, signer: TestSigner): Promise<SignedTagBuild> {
  const repo = await makeRepo(goProject('echo signed > out.txt'));
  const commit = signedCommit(repo.dir, signer, 'release 1.0.0');
  signedTag(repo.dir, signer, 'v1.0.0');
  const bundle = join(work, 'signed.tar.gz');
  await cliBuildJson(['--local', '--tag', 'v1.0.0', '--out', bundle], repo.dir, work);
  return { bundle, commit, repo };
}

/** `tee-compile verify <bundle> --allow-simulated …`, run in `work`, and its `--json` form. */
export function signedVerifier(work: () => string): {
  verify: (bundle: string, ...args: string[]) => ReturnType<typeof runCli>;
  verifyJson: (bundle: string, ...args: string[]) => Promise<{ ok: boolean; code: string | null }>;
} {
  const verify = (bundle: string, ...args: string[]): ReturnType<typeof runCli> =>
    runCli(['verify', bundle, '--allow-simulated', ...args], { cwd: work() });
  return {
    verify,
    verifyJson: async (bundle, ...args) =>
      JSON.parse((await verify(bundle, '--json', ...args)).stdout) as {
        ok: boolean;
        code: string | null;
      },
  };
}
