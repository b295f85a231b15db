/**
 * The origin fields of the policy file (`source.signers`, `source.requireSigned`, `source.tag`,
 * `source.requireWorkflow`, `source.workflowRef`), zod 4, spread into policy-schema.ts's `source`.
 * Plain zod: the schema generator bundles it without the signature code.
 */
import { z } from 'zod';

const sshSigner = z
  .strictObject({
    principal: z.string().regex(/^[^\s,"]+$/, { error: 'expected one principal, e.g. alice@acme' }),
    sshKey: z.string().regex(/^(?:ssh-|ecdsa-|sk-)[\w@.-]+ [A-Za-z0-9+/]+=*(?: .*)?$/, {
      error: 'expected an SSH public key line, e.g. "ssh-ed25519 AAAA…"',
    }),
    validAfter: z.string().optional().meta({ description: 'YYYYMMDD[HHMM[SS]][Z], UTC.' }),
    validBefore: z.string().optional().meta({ description: 'YYYYMMDD[HHMM[SS]][Z], UTC.' }),
    namespaces: z.string().optional().meta({ description: 'Comma-separated; git signs in "git".' }),
  })
  .meta({ description: "An SSH signer, as a line of git's allowed signers file." });

const pgpSigner = z
  .strictObject({
    pgpKey: z.string().includes('-----BEGIN PGP PUBLIC KEY BLOCK-----', {
      error: 'expected an armored OpenPGP public key (gpg --export --armor)',
    }),
  })
  .meta({ description: 'An OpenPGP signer: its armored public key.' });

/** The policy file's origin fields (spread into `source`). */
export const originPolicyFields = {
  tag: z
    .string()
    .min(1)
    .optional()
    .meta({ description: 'The bundle must be a build of this annotated tag.' }),
  signers: z
    .array(
      z.union([sshSigner, pgpSigner], { error: 'expected {"principal","sshKey"} or {"pgpKey"}' }),
    )
    .optional()
    .meta({
      description:
        'Trusted signers of the commit (and tag). Naming any makes requireSigned default to "commit".',
    }),
  requireSigned: z.enum(['commit', 'tag', 'none']).optional().meta({
    description:
      'Which object must carry a trusted signature (default none, or commit when signers are named).',
  }),
  requireWorkflow: z.boolean().optional().meta({
    description: "Require a verified GitHub Actions OIDC token bound to the build's nonce.",
  }),
  workflowRef: z.array(z.string().min(1)).optional().meta({
    description: 'Accepted workflow_ref values of the token; "*" matches any run of characters.',
  }),
};
