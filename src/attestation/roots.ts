/**
 * Trust anchors: the pinned AWS Nitro Enclaves root G1 and the simulation root of the software NSM.
 */
import { AttestationError } from './errors.js';
import { pemToDer } from '../cose/index.js';
import { SIMULATION_ROOT_CERTIFICATE_PEM } from './simulation-root.js';
import type { TrustAnchor } from './types.js';
import { parseCertificate } from './x509.js';

/**
 * `CN=aws.nitro-enclaves, C=US, O=Amazon, OU=AWS`, valid 2019-10-28 to 2049-10-28, P-384, from
 * `AWS_NitroEnclaves_Root-G1.zip` (NSM API docs/attestation_process.md §2.1). SHA-256 of the DER:
 * 641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b. Pinned here, never fetched.
 */
const AWS_NITRO_ROOT_G1_PEM = `-----BEGIN CERTIFICATE-----
MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL
MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD
VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4
MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL
DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG
BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb
48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE
h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF
R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC
MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW
rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N
IwLz3/Y=
-----END CERTIFICATE-----
`;

/** The AWS Nitro Enclaves root G1: the default and only built-in trust anchor for real documents. */
export const AWS_NITRO_ROOT_G1: TrustAnchor = Object.freeze({
  name: 'aws-nitro-root-g1',
  der: pemToDer(AWS_NITRO_ROOT_G1_PEM),
});

/**
 * The root of the software NSM. Its private key is public (src/attestation/simulation-root.ts), so
 * documents under it prove nothing: they verify only when this anchor is passed explicitly.
 */
export const SIMULATION_ROOT: TrustAnchor = Object.freeze({
  name: 'tee-compile-simulation',
  der: pemToDer(SIMULATION_ROOT_CERTIFICATE_PEM),
});

/**
 * A trust anchor from a PEM certificate (e.g. a `--root` file). Throws `AttestationError`
 * (`CERT_MALFORMED`, path `trustAnchor`) when the text is not one parseable certificate.
 */
export function trustAnchorFromPem(name: string, pem: string): TrustAnchor {
  let der: Uint8Array;
  try {
    der = pemToDer(pem);
  } catch (e) {
    throw new AttestationError('CERT_MALFORMED', `trust anchor ${name}: ${(e as Error).message}`, {
      path: 'trustAnchor',
      cause: e,
    });
  }
  parseCertificate(der, 'trustAnchor');
  return Object.freeze({ name, der });
}
