/**
 * The policy file's wire shape (zod 4). `schemas/policy.schema.json` is generated from it by
 * `scripts/schemas.mjs`; a test checks that the committed file is current.
 */
import { z } from 'zod';
import { IAM_ROLE_ARN_RE } from '../attestation/index.js';
import { FULL_COMMIT_RE } from './source.js';
import { originPolicyFields } from './origin-schema.js';

/** A SHA-384 PCR value: what Nitro attests for PCR0-4 and PCR8. */
export const PCR_HEX_RE = /^[0-9a-fA-F]{96}$/;

export { IAM_ROLE_ARN_RE };

export const IAM_ROLE_HINT = 'expected an IAM role ARN like arn:aws:iam::123456789012:role/Name';

/** Largest k a policy may ask for. */
export const MAX_MIN_BUILDERS = 64;

const pcrHex = z
  .string()
  .regex(PCR_HEX_RE, { error: 'expected 96 hex digits (a SHA-384 PCR value)' });

const name = z.string().min(1, { error: 'expected a non-empty name' });

const measurements = z
  .strictObject({ pcr0: pcrHex, pcr1: pcrHex, pcr2: pcrHex })
  .meta({ description: 'PCR0-2 of an image as the simulated (local) backend attests them.' });

const image = z
  .strictObject({
    name: name.meta({ description: 'Image name, as in enclave/images.json (e.g. rust).' }),
    version: name.meta({ description: 'Image version.' }),
    pcr0: pcrHex.meta({ description: 'PCR0: the enclave image file.' }),
    pcr1: pcrHex.meta({ description: 'PCR1: the kernel and boot ramfs.' }),
    pcr2: pcrHex.meta({ description: 'PCR2: the user applications.' }),
    simulated: measurements.optional(),
  })
  .meta({ description: 'A trusted enclave image: its measured PCR0/1/2.' });

const builderByRole = z
  .strictObject({
    name,
    iamRole: z.string().regex(IAM_ROLE_ARN_RE, { error: IAM_ROLE_HINT }).meta({
      description:
        "ARN of the IAM role of the builder's Nitro hosts (the instance profile's role); PCR3 is computed from it as AWS does.",
    }),
    publicKey: z.string().max(4096).optional().meta({
      description:
        "PEM public key of the builder's KMS-sealed signing key: its bundles must carry provenance.dsse.json signed by it.",
    }),
  })
  .meta({ description: 'A trusted builder named by the IAM role of its Nitro hosts.' });

const builderByPcr3 = z
  .strictObject({
    name,
    pcr3: pcrHex.meta({ description: 'PCR3 (hex), as the attestation reports it.' }),
    publicKey: z.string().max(4096).optional().meta({
      description:
        "PEM public key of the builder's KMS-sealed signing key: its bundles must carry provenance.dsse.json signed by it.",
    }),
  })
  .meta({ description: 'A trusted builder named by its PCR3.' });

const builder = z.union([builderByRole, builderByPcr3], {
  error: 'expected a builder: {"name", "iamRole"} or {"name", "pcr3"}',
});

/** The policy file (JSON). */
export const policyFileSchema = z
  .strictObject({
    $schema: z.string().optional(),
    images: z
      .array(image)
      .min(1, {
        error: 'expected at least one image (leave images out to trust the published images)',
      })
      .optional()
      .meta({
        description:
          'Trusted images. Default: the images published with this version of tee-compile (enclave/images.json).',
      }),
    builders: z
      .array(builder)
      .min(1, { error: 'expected at least one builder (leave builders out to accept any)' })
      .optional()
      .meta({
        description:
          'Trusted builders. When given, only these count, and a single bundle must come from one of them.',
      }),
    minBuilders: z
      .int({ error: 'expected a whole number' })
      .min(1, { error: 'expected at least 1' })
      .max(MAX_MIN_BUILDERS, { error: `expected at most ${MAX_MIN_BUILDERS}` })
      .default(1)
      .meta({
        description: 'Distinct trusted builders that must agree on identical outputs (k of n).',
      }),
    maxAgeSeconds: z
      .int({ error: 'expected a whole number of seconds' })
      .positive({ error: 'expected a positive number of seconds' })
      .optional()
      .meta({ description: "Refuse attestations older than this, by the verifier's clock." }),
    allowDebug: z
      .boolean()
      .default(false)
      .meta({ description: 'Accept debug-mode enclaves (PCR0-2 all zero: nothing is measured).' }),
    allowSimulated: z.boolean().default(false).meta({
      description:
        'Accept bundles signed by the software NSM under the simulation root (testing only).',
    }),
    source: z
      .strictObject({
        repository: z.string().min(1, { error: 'expected a repository URL' }).optional().meta({
          description: 'Expected repository, e.g. https://github.com/owner/repo.',
        }),
        commit: z
          .string()
          .regex(FULL_COMMIT_RE, {
            error:
              'expected a full commit id (40 or 64 hex digits; abbreviated ids are not accepted)',
          })
          .optional()
          .meta({ description: 'Expected source commit (full id).' }),
        ...originPolicyFields,
      })
      .optional(),
    pcrs: z
      .record(
        z.string().regex(/^(?:[0-9]|[12][0-9]|3[01])$/, { error: 'expected a PCR index 0-31' }),
        pcrHex,
      )
      .optional()
      .meta({ description: 'Extra PCR expectations by index, e.g. {"4": "<hex>"} for one host.' }),
  })
  .meta({
    title: 'tee-compile trust policy',
    description: 'What a verifier trusts: enclave images, builders, and how many must agree.',
  });

export type PolicyFile = z.output<typeof policyFileSchema>;

/** The JSON Schema (draft 2020-12) of the policy file, as committed in schemas/policy.schema.json. */
export function policyJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(policyFileSchema, { io: 'input' });
}
