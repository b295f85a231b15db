/**
 * Writes test/fixtures/pki/: a forged Nitro-shaped root, documents signed under it (one valid,
 * the others each broken in one way) and expected.json with the refusal code of each. The
 * generators are those of test/support/attestation/pki-forge.ts, which the tests also call directly.
 *
 * Run from the repository root (the output is committed; keys are fresh on every run):
 *
 *   npx esbuild scripts/gen-test-pki.ts --bundle --platform=node --format=esm \
 *     --packages=external --outfile=bench/.work/gen-test-pki.mjs \
 *     && node bench/.work/gen-test-pki.mjs
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AWS_NITRO_ROOT_G1 } from '../src/attestation/roots.js';
import { derToPem } from '../src/cose/index.js';
import { generateP256, x509 } from '../src/attestation/sim-pki.js';
import {
  T0,
  defaultPcrs,
  forgeChain,
  forgeDocument,
  keysFor,
  protectedHeaderWithAlg,
} from '../test/support/attestation/pki-forge.js';

const OUT = resolve(process.cwd(), 'test/fixtures/pki');
const H = 60 * 60 * 1000;

/** What a fixture is checked against (`root.pem` or the AWS root) and the expected outcome. */
interface Expectation {
  anchor: 'root.pem' | 'aws';
  code: string;
  note: string;
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const expected: Record<string, Expectation> = {};
  const chain = await forgeChain({ keys: 'fixtures' });
  writeFileSync(`${OUT}/root.pem`, derToPem(chain.root.der));
  const put = (file: string, bytes: Uint8Array, e: Expectation): void => {
    writeFileSync(`${OUT}/${file}`, bytes);
    expected[file] = e;
  };

  put(
    'valid.cbor',
    await forgeDocument(chain, {
      nonce: Uint8Array.of(0xa1, 0xb2),
      userData: new TextEncoder().encode('hello'),
    }),
    {
      anchor: 'root.pem',
      code: 'OK',
      note: `valid at its timestamp ${new Date(T0).toISOString()}`,
    },
  );
  const zero = defaultPcrs();
  zero.set(0, new Uint8Array(48));
  put('debug.cbor', await forgeDocument(chain, { pcrs: zero }), {
    anchor: 'root.pem',
    code: 'DEBUG_MODE',
    note: 'PCR0 all zero; valid with --allow-debug',
  });

  const broken: Array<[string, Parameters<typeof forgeChain>[0], string, string]> = [
    [
      'leaf-is-ca.cbor',
      { overrides: { leaf: { basicConstraints: { ca: true } } } },
      'CERT_LEAF_IS_CA',
      'the leaf claims CA',
    ],
    [
      'not-ca.cbor',
      { overrides: { zonal: { basicConstraints: { ca: false } } } },
      'CERT_NOT_CA',
      'the zonal CA is not a CA',
    ],
    [
      'path-length.cbor',
      { overrides: { regional: { basicConstraints: { ca: true, pathLen: 1 } } } },
      'CERT_PATH_LENGTH',
      'regional pathLen 1 with two CAs below',
    ],
    [
      'expired-intermediate.cbor',
      { overrides: { instance: { notBefore: T0 - 10 * H, notAfter: T0 - H } } },
      'CERT_EXPIRED',
      'the instance CA expired before the document',
    ],
    [
      'key-usage.cbor',
      { overrides: { instance: { keyUsage: { usages: 1, critical: true } } } },
      'CERT_KEY_USAGE',
      'the instance CA lacks keyCertSign',
    ],
    [
      'unknown-critical.cbor',
      {
        overrides: {
          leaf: {
            extensions: [new x509.Extension('1.3.6.1.4.1.99999.1', true, Uint8Array.of(5, 0))],
          },
        },
      },
      'CERT_UNKNOWN_CRITICAL_EXTENSION',
      'the leaf has a critical extension nobody knows',
    ],
  ];
  for (const [file, opts, code, note] of broken) {
    const c = await forgeChain({ keys: 'fixtures', ...opts });
    // Anchored to the same root as valid.cbor (same root key and certificate).
    const doc = await forgeDocument({ ...c, root: chain.root, anchor: chain.anchor });
    put(file, doc, { anchor: 'root.pem', code, note });
  }

  const p256 = await generateP256();
  const es = await forgeChain({ keys: 'fixtures', overrides: { leaf: { keys: p256 } } });
  put(
    'es256.cbor',
    await forgeDocument(
      { ...es, root: chain.root },
      { protectedHeader: protectedHeaderWithAlg(-7), hash: 'SHA-256' },
    ),
    {
      anchor: 'root.pem',
      code: 'COSE_UNSUPPORTED_ALG',
      note: 'a valid ES256 signature declared as alg -7',
    },
  );

  const awsName = new x509.X509Certificate(AWS_NITRO_ROOT_G1.der.slice().buffer).subjectName;
  const lookalike = await forgeChain({
    keys: 'fixtures-lookalike',
    overrides: { root: { subject: new Uint8Array(awsName.toArrayBuffer()) } },
  });
  put('aws-lookalike.cbor', await forgeDocument(lookalike), {
    anchor: 'aws',
    code: 'CHAIN_UNTRUSTED_ROOT',
    note: "a complete forgery under a self-made root with AWS's name",
  });
  const underAws = await forgeChain({
    keys: 'fixtures-aws',
    root: { der: AWS_NITRO_ROOT_G1.der, keys: await keysFor('not-aws') },
  });
  put('aws-root-forged-intermediates.cbor', await forgeDocument(underAws), {
    anchor: 'aws',
    code: 'CHAIN_SIGNATURE_INVALID',
    note: "AWS's root certificate heading intermediates signed by another key",
  });

  writeFileSync(
    `${OUT}/expected.json`,
    JSON.stringify({ timestamp: T0, documents: expected }, null, 2) + '\n',
  );
  process.stdout.write(`wrote ${Object.keys(expected).length} documents to ${OUT}\n`);
}

await main();
