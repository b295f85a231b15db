/**
 * A real signing certificate and key for signed-EIF tests, made with WebCrypto and
 * @peculiar/x509, and a signer that produces COSE signatures like nitro-cli's.
 */
import { webcrypto } from 'node:crypto';
import * as x509 from '../../../src/util/x509.js';
import type { EifSigner } from '../../../src/eif/writer.js';
import type { CoseAlgorithm } from '../../../src/cose/index.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const PARAMS: Record<CoseAlgorithm, { namedCurve: string; hash: string }> = {
  ES256: { namedCurve: 'P-256', hash: 'SHA-256' },
  ES384: { namedCurve: 'P-384', hash: 'SHA-384' },
  ES512: { namedCurve: 'P-521', hash: 'SHA-512' },
};

/** A signing identity. */
export interface TestSigningIdentity {
  certificatePem: string;
  certificateDer: Uint8Array;
  privateKey: CryptoKey;
  algorithm: CoseAlgorithm;
  signer: EifSigner;
}

/** A self-signed signing certificate on the curve of `algorithm`. */
export async function makeSigningIdentity(
  algorithm: CoseAlgorithm = 'ES384',
  subject = 'CN=tee-compile test signer, O=Example Org, C=US',
): Promise<TestSigningIdentity> {
  const p = PARAMS[algorithm];
  const alg = { name: 'ECDSA', namedCurve: p.namedCurve, hash: p.hash };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: subject,
    notBefore: new Date('2024-01-01T00:00:00Z'),
    notAfter: new Date('2034-01-01T00:00:00Z'),
    signingAlgorithm: alg,
    keys,
  });
  const signer: EifSigner = {
    certificatePem: cert.toString('pem'),
    algorithm,
    sign: async (tbs) =>
      new Uint8Array(
        await webcrypto.subtle.sign(
          { name: 'ECDSA', hash: p.hash },
          keys.privateKey,
          new Uint8Array(tbs),
        ),
      ),
  };
  return {
    certificatePem: cert.toString('pem'),
    certificateDer: new Uint8Array(cert.rawData),
    privateKey: keys.privateKey,
    algorithm,
    signer,
  };
}
