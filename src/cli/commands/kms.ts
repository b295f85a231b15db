/**
 * `tee-compile kms create-builder-key`: a builder's signing key that only trusted enclave images
 * can use (see docs/builder-key.md). Creates a symmetric KMS key, gives it a key policy allowing
 * `kms:Decrypt` only with an attestation of a trusted image (printed for review), generates an
 * ECC_NIST_P256 data key pair under it without plaintext, writes the sealed key file for the host,
 * and prints the public key (PEM) and its fingerprint for publication.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { derToPem, pcr3ForIamRole } from '../../attestation/index.js';
import { loadImageCatalog } from '../../catalog/node.js';
import { builderKeyPolicy, formatSealedKey, isKmsError } from '../../kms/index.js';
import { createBuilderKey, kmsClientFromEnv } from '../../kms/node.js';
import { toHex } from '../../util/hex.js';
import type { CliIo } from '../io.js';
import { EXIT_OK, EXIT_REFUSED, UsageError, writeLine } from '../io.js';

const USAGE = `usage: tee-compile kms create-builder-key --region <region> --account <id> --builder-role <arn>
    (--image-sha384 <hex>... | --catalog-images | --simulated-images) [--match pcr0] [--no-pcr3]
    [--out builder-key.json] [--json]

Creates the builder's signing key, sealed by AWS KMS to trusted enclave images:
CreateKey (symmetric), PutKeyPolicy (kms:Decrypt only with kms:RecipientAttestation:ImageSha384
in the trusted images and PCR3 of the builder role), GenerateDataKeyPairWithoutPlaintext
(ECC_NIST_P256). Writes the encrypted private key and the public key to --out, and prints the key
policy, the public key (PEM) and its fingerprint. Credentials and endpoint: the AWS SDK's usual
environment (AWS_ENDPOINT_URL_KMS to point elsewhere).

  --image-sha384 <hex>  a trusted image's SHA-384 (PCR0), repeatable
  --catalog-images      trust the measured images of enclave/images.json
  --simulated-images    trust the simulated images of enclave/images.json (local backend, tests)
  --match pcr0          condition on kms:RecipientAttestation:PCR0 instead of ImageSha384
  --no-pcr3             do not require PCR3 of --builder-role in the attestation
  --images <file>       the image catalog (default: the one shipped)`;

/** `tee-compile kms …`. */
export async function run(args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === '--help' || sub === '-h') {
    writeLine(io.stdout, USAGE);
    return EXIT_OK;
  }
  if (sub !== 'create-builder-key') throw new UsageError('expected: kms create-builder-key');
  const { values } = parseArgs({
    args: rest,
    strict: true,
    options: {
      region: { type: 'string' },
      account: { type: 'string' },
      'builder-role': { type: 'string' },
      'image-sha384': { type: 'string', multiple: true },
      'catalog-images': { type: 'boolean', default: false },
      'simulated-images': { type: 'boolean', default: false },
      images: { type: 'string' },
      match: { type: 'string' },
      'no-pcr3': { type: 'boolean', default: false },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    writeLine(io.stdout, USAGE);
    return EXIT_OK;
  }
  const region = values.region ?? io.env.AWS_REGION;
  if (region === undefined) throw new UsageError('--region is required (or AWS_REGION)');
  if (values.account === undefined) throw new UsageError('--account is required');
  const role = values['builder-role'];
  if (role === undefined) throw new UsageError('--builder-role is required');
  if (values.match !== undefined && values.match !== 'pcr0')
    throw new UsageError('--match takes only pcr0');
  const images = (values['image-sha384'] ?? []).map((h) => h.toLowerCase());
  if (values['catalog-images'] || values['simulated-images']) {
    const catalog = await loadImageCatalog(
      values.images === undefined ? undefined : resolve(io.cwd, values.images),
    );
    for (const img of catalog.images) {
      if (values['catalog-images'] && img.pcrs !== null) images.push(img.pcrs.pcr0.toLowerCase());
      if (values['simulated-images']) images.push(img.simulated.pcr0.toLowerCase());
    }
  }
  const out = resolve(io.cwd, values.out ?? 'builder-key.json');
  try {
    const policy = builderKeyPolicy({
      account: values.account,
      builderRole: role,
      images: [...new Set(images)],
      ...(values.match === 'pcr0' ? { imageKey: 'PCR0' as const } : {}),
      ...(values['no-pcr3'] ? {} : { pcr3: toHex(pcr3ForIamRole(role)) }),
    });
    const client = await kmsClientFromEnv(region, io.env);
    let created;
    try {
      created = await createBuilderKey(client, { region }, policy);
    } finally {
      client.destroy();
    }
    await writeFile(out, formatSealedKey(created.sealed));
    const pem = derToPem(created.sealed.publicKey, 'PUBLIC KEY');
    if (values.json) {
      writeLine(
        io.stdout,
        JSON.stringify(
          {
            file: out,
            kmsKeyArn: created.sealed.kmsKeyArn,
            fingerprint: created.sealed.fingerprint,
            publicKey: pem,
            policy,
          },
          null,
          2,
        ),
      );
    } else {
      writeLine(io.stdout, `key policy of ${created.sealed.kmsKeyArn} (review it):`);
      writeLine(io.stdout, JSON.stringify(policy, null, 2));
      writeLine(io.stdout, `sealed key   ${out}`);
      writeLine(io.stdout, `fingerprint  ${created.sealed.fingerprint}`);
      writeLine(io.stdout, pem.trimEnd());
    }
    return EXIT_OK;
  } catch (e) {
    if (!isKmsError(e)) throw e;
    writeLine(io.stderr, `tee-compile kms: ${e.code}: ${e.message}`);
    return EXIT_REFUSED;
  }
}
