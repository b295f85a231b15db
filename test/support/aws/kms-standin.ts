/**
 * A stand-in for the AWS KMS JSON API (AWS JSON 1.1: `POST /`, `X-Amz-Target: TrentService.<Op>`,
 * base64 blobs, errors as HTTP 400 `{"__type":"<Name>Exception","message":…}`), reached through
 * the real @aws-sdk/client-kms by endpoint override. Shared by all tests.
 *
 * Operations: CreateKey (SYMMETRIC_DEFAULT, or ECC_NIST_P256 for SIGN_VERIFY), PutKeyPolicy,
 * GenerateDataKeyPairWithoutPlaintext (ECC_NIST_P256), Decrypt (plain, or with a Recipient:
 * the attestation document is verified against the root the stand-in is given, its
 * `public_key` must be an RSA key, and the key policy's `kms:RecipientAttestation:ImageSha384` /
 * `PCR<n>` conditions are enforced; the answer is CiphertextForRecipient as CMS EnvelopedData,
 * RSAES-OAEP-SHA-256 + AES-256-CBC, without Plaintext), GetPublicKey, Sign (RAW, ECDSA_SHA_256).
 *
 * Not simulated: SigV4 signature checking and principals (a policy statement's Principal is not
 * compared with a caller), grants, key states other than Enabled.
 */
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  createPublicKey,
  generateKeyPairSync,
  publicEncrypt,
  randomBytes,
  randomUUID,
  sign as nodeSign,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ContentInfo,
  EncryptedContent,
  EncryptedContentInfo,
  EnvelopedData,
  KeyTransRecipientInfo,
  RecipientIdentifier,
  RecipientInfo,
  RecipientInfos,
  CMSVersion,
  id_data,
  id_envelopedData,
  ContentEncryptionAlgorithmIdentifier,
  KeyEncryptionAlgorithmIdentifier,
} from '@peculiar/asn1-cms';
import { RsaEsOaepParams, id_RSAES_OAEP, id_mgf1, id_sha256 } from '@peculiar/asn1-rsa';
import { AlgorithmIdentifier, SubjectKeyIdentifier } from '@peculiar/asn1-x509';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import type { TrustAnchor } from '../../../src/attestation/index.js';
import { verifyAttestation } from '../../../src/attestation/index.js';
import { toHex } from '../../../src/util/hex.js';
import type { Listening, LoggedRequest } from '../github/github-http.js';
import { HttpFailure, listen, readBody } from '../github/github-http.js';

interface StoredKey {
  id: string;
  arn: string;
  spec: 'SYMMETRIC_DEFAULT' | 'ECC_NIST_P256';
  usage: 'ENCRYPT_DECRYPT' | 'SIGN_VERIFY';
  policy: string | null;
  aes?: Buffer;
  signing?: { privateKey: KeyObject; spki: Buffer };
}

export interface KmsStandInOptions {
  /** Roots attestation documents of a Recipient must chain to (tests: the simulation root). */
  roots: TrustAnchor[];
  region?: string;
  account?: string;
}

/** One call as the stand-in saw it. */
export interface KmsCall {
  op: string;
  status: number;
  error?: string;
  withRecipient?: boolean;
}

export interface KmsStandIn extends Listening {
  region: string;
  account: string;
  calls: KmsCall[];
  keys: Map<string, StoredKey>;
}

const BLOB_VERSION = 1;

function fail(type: string, message: string): HttpFailure {
  return new HttpFailure(400, { __type: type, message }, { 'x-amzn-ErrorType': type });
}

function blob(v: unknown, field: string): Buffer {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v))
    throw fail(
      'ValidationException',
      `1 validation error detected: Value at '${field}' failed to satisfy constraint`,
    );
  return Buffer.from(v, 'base64');
}

/** Starts the stand-in on loopback. */
export async function startKmsStandIn(opts: KmsStandInOptions): Promise<KmsStandIn> {
  const region = opts.region ?? 'us-east-1';
  const account = opts.account ?? '111122223333';
  const keys = new Map<string, StoredKey>();
  const calls: KmsCall[] = [];
  const log: LoggedRequest[] = [];

  const find = (keyId: unknown): StoredKey => {
    if (typeof keyId !== 'string') throw fail('ValidationException', 'KeyId is required');
    const id = keyId.startsWith('arn:') ? keyId.slice(keyId.lastIndexOf('/') + 1) : keyId;
    const k = keys.get(id);
    if (k === undefined || (keyId.startsWith('arn:') && k.arn !== keyId))
      throw fail('NotFoundException', `Key '${keyId}' does not exist`);
    return k;
  };

  const seal = (k: StoredKey, plaintext: Buffer): Buffer => {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', k.aes!, iv);
    c.setAAD(Buffer.from(k.id));
    const ct = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
    return Buffer.concat([Buffer.from([BLOB_VERSION]), Buffer.from(k.id), iv, ct]);
  };

  const unseal = (b: Buffer, keyId: unknown): { k: StoredKey; plaintext: Buffer } => {
    const invalid = fail('InvalidCiphertextException', '');
    if (b.length < 1 + 36 + 12 + 16 || b[0] !== BLOB_VERSION) throw invalid;
    const k = keys.get(b.subarray(1, 37).toString('latin1'));
    if (k === undefined || k.aes === undefined) throw invalid;
    if (keyId !== undefined && find(keyId) !== k)
      throw fail(
        'IncorrectKeyException',
        'The key ID in the request does not identify a CMK that can perform this operation.',
      );
    try {
      const iv = b.subarray(37, 49);
      const d = createDecipheriv('aes-256-gcm', k.aes, iv);
      d.setAAD(Buffer.from(k.id));
      d.setAuthTag(b.subarray(b.length - 16));
      return { k, plaintext: Buffer.concat([d.update(b.subarray(49, b.length - 16)), d.final()]) };
    } catch {
      throw invalid;
    }
  };

  const ops: Record<string, (req: Record<string, unknown>, call: KmsCall) => Promise<unknown>> = {
    CreateKey: async (req) => {
      const spec = (req.KeySpec ?? 'SYMMETRIC_DEFAULT') as string;
      const usage = (req.KeyUsage ??
        (spec === 'SYMMETRIC_DEFAULT' ? 'ENCRYPT_DECRYPT' : undefined)) as string;
      const id = randomUUID();
      const arn = `arn:aws:kms:${region}:${account}:key/${id}`;
      let k: StoredKey;
      if (spec === 'SYMMETRIC_DEFAULT' && usage === 'ENCRYPT_DECRYPT')
        k = { id, arn, spec, usage, policy: null, aes: randomBytes(32) };
      else if (spec === 'ECC_NIST_P256' && usage === 'SIGN_VERIFY') {
        const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        k = {
          id,
          arn,
          spec,
          usage,
          policy: null,
          signing: { privateKey, spki: publicKey.export({ type: 'spki', format: 'der' }) },
        };
      } else
        throw fail(
          'ValidationException',
          `KeySpec ${spec} with KeyUsage ${String(usage)} is not supported here`,
        );
      if (typeof req.Policy === 'string') k.policy = checkPolicy(req.Policy);
      keys.set(id, k);
      return {
        KeyMetadata: {
          AWSAccountId: account,
          KeyId: id,
          Arn: arn,
          Enabled: true,
          KeyState: 'Enabled',
          KeySpec: spec,
          KeyUsage: usage,
          CreationDate: Date.now() / 1000,
          KeyManager: 'CUSTOMER',
          Origin: 'AWS_KMS',
        },
      };
    },
    PutKeyPolicy: async (req) => {
      const k = find(req.KeyId);
      if (req.PolicyName !== undefined && req.PolicyName !== 'default')
        throw fail('ValidationException', "PolicyName must be 'default'");
      if (typeof req.Policy !== 'string') throw fail('ValidationException', 'Policy is required');
      k.policy = checkPolicy(req.Policy);
      return {};
    },
    GenerateDataKeyPairWithoutPlaintext: async (req) => {
      const k = find(req.KeyId);
      if (k.usage !== 'ENCRYPT_DECRYPT')
        throw fail('InvalidKeyUsageException', 'KeyUsage is not ENCRYPT_DECRYPT');
      if (req.KeyPairSpec !== 'ECC_NIST_P256')
        throw fail(
          'ValidationException',
          `KeyPairSpec ${String(req.KeyPairSpec)} is not supported here`,
        );
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
      return {
        KeyId: k.arn,
        KeyPairSpec: 'ECC_NIST_P256',
        PrivateKeyCiphertextBlob: seal(k, pkcs8).toString('base64'),
        PublicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
      };
    },
    Decrypt: async (req, call) => {
      const { k, plaintext } = unseal(blob(req.CiphertextBlob, 'ciphertextBlob'), req.KeyId);
      const r = req.Recipient as Record<string, unknown> | undefined;
      call.withRecipient = r !== undefined;
      let facts: Map<string, string> = new Map();
      let rsa: KeyObject | undefined;
      if (r !== undefined) {
        if (r.KeyEncryptionAlgorithm !== 'RSAES_OAEP_SHA_256')
          throw fail(
            'ValidationException',
            'Recipient.KeyEncryptionAlgorithm must be RSAES_OAEP_SHA_256',
          );
        const doc = await verifyAttestation(
          blob(r.AttestationDocument, 'recipient.attestationDocument'),
          {
            trustAnchors: opts.roots,
            allowDebug: true,
          },
        );
        if (!doc.ok)
          throw fail('ValidationException', `The attestation document is not valid: ${doc.code}`);
        const pk = doc.document.publicKey;
        try {
          rsa =
            pk === null
              ? undefined
              : createPublicKey({ key: Buffer.from(pk), format: 'der', type: 'spki' });
        } catch {
          rsa = undefined;
        }
        if (rsa === undefined || rsa.asymmetricKeyType !== 'rsa')
          throw fail('ValidationException', 'The attestation document has no RSA public key');
        facts = new Map(
          [...doc.document.pcrs].map(([i, v]) => [`kms:RecipientAttestation:PCR${i}`, toHex(v)]),
        );
        facts.set(
          'kms:RecipientAttestation:ImageSha384',
          toHex(doc.document.pcrs.get(0) ?? new Uint8Array(48)),
        );
      }
      if (!allows(k.policy, 'kms:Decrypt', facts))
        throw fail(
          'AccessDeniedException',
          `User is not authorized to perform: kms:Decrypt on resource: ${k.arn} because no resource-based policy allows the kms:Decrypt action`,
        );
      if (rsa === undefined)
        return {
          KeyId: k.arn,
          Plaintext: plaintext.toString('base64'),
          EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        };
      return {
        KeyId: k.arn,
        CiphertextForRecipient: envelopedData(plaintext, rsa).toString('base64'),
        EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      };
    },
    GetPublicKey: async (req) => {
      const k = find(req.KeyId);
      if (k.signing === undefined)
        throw fail('UnsupportedOperationException', `${k.arn} is not an asymmetric key`);
      return {
        KeyId: k.arn,
        KeySpec: k.spec,
        KeyUsage: k.usage,
        PublicKey: k.signing.spki.toString('base64'),
        SigningAlgorithms: ['ECDSA_SHA_256'],
      };
    },
    Sign: async (req) => {
      const k = find(req.KeyId);
      if (k.signing === undefined)
        throw fail('InvalidKeyUsageException', `${k.arn} is not a signing key`);
      if (req.SigningAlgorithm !== 'ECDSA_SHA_256')
        throw fail(
          'ValidationException',
          'SigningAlgorithm must be ECDSA_SHA_256 for ECC_NIST_P256',
        );
      if ((req.MessageType ?? 'RAW') !== 'RAW')
        throw fail('ValidationException', 'only MessageType RAW is simulated');
      const msg = blob(req.Message, 'message');
      if (msg.length > 4096)
        throw fail('ValidationException', 'Message must be at most 4096 bytes');
      if (!allows(k.policy, 'kms:Sign', new Map()))
        throw fail(
          'AccessDeniedException',
          `User is not authorized to perform: kms:Sign on resource: ${k.arn}`,
        );
      const sig = nodeSign('sha256', msg, { key: k.signing.privateKey, dsaEncoding: 'der' });
      return { KeyId: k.arn, Signature: sig.toString('base64'), SigningAlgorithm: 'ECDSA_SHA_256' };
    },
  };

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const op = target.startsWith('TrentService.') ? target.slice('TrentService.'.length) : '';
    const call: KmsCall = { op, status: 200 };
    calls.push(call);
    try {
      if (
        req.method !== 'POST' ||
        String(req.headers['content-type']).split(';')[0] !== 'application/x-amz-json-1.1'
      )
        throw fail('UnknownOperationException', 'expected POST with application/x-amz-json-1.1');
      const f = ops[op];
      if (f === undefined) throw fail('UnknownOperationException', `unknown operation ${target}`);
      let body: Record<string, unknown>;
      try {
        body = JSON.parse((await readBody(req)).toString('utf8')) as Record<string, unknown>;
      } catch {
        throw fail('SerializationException', 'the request body is not JSON');
      }
      const out = await f(body, call);
      res.writeHead(200, {
        'content-type': 'application/x-amz-json-1.1',
        'x-amzn-requestid': randomUUID(),
      });
      res.end(JSON.stringify(out));
    } catch (e) {
      if (!(e instanceof HttpFailure)) throw e;
      call.status = e.status;
      call.error = (e.body as { __type: string }).__type;
      res.writeHead(e.status, { 'content-type': 'application/x-amz-json-1.1', ...e.headers });
      res.end(JSON.stringify(e.body));
    }
  };
  const l = await listen('kms', log, handler, (res, e) => {
    res.writeHead(500, { 'content-type': 'application/x-amz-json-1.1' });
    res.end(JSON.stringify({ __type: 'KMSInternalException', message: String(e) }));
  });
  return { ...l, region, account, calls, keys };
}

function checkPolicy(text: string): string {
  let p: unknown;
  try {
    p = JSON.parse(text);
  } catch {
    throw fail('MalformedPolicyDocumentException', 'The policy is not JSON');
  }
  const st = (p as { Statement?: unknown }).Statement;
  if (!Array.isArray(st) || st.length === 0)
    throw fail('MalformedPolicyDocumentException', 'The policy has no Statement');
  return text;
}

type Statement = {
  Effect?: string;
  Action?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
};

function actionMatches(a: Statement['Action'], action: string): boolean {
  const list = typeof a === 'string' ? [a] : (a ?? []);
  return list.some(
    (x) =>
      x === action ||
      x === 'kms:*' ||
      x === '*' ||
      (x.endsWith('*') && action.startsWith(x.slice(0, -1))),
  );
}

/** IAM evaluation of the condition operators builder key policies use; unknown ones never match. */
function conditionHolds(cond: Statement['Condition'], facts: Map<string, string>): boolean {
  for (const [op, entries] of Object.entries(cond ?? {})) {
    for (const [key, want] of Object.entries(entries)) {
      const got = facts.get(key);
      if (got === undefined) return false; // an absent key fails StringEquals*
      const wants = typeof want === 'string' ? [want] : want;
      if (op === 'StringEqualsIgnoreCase') {
        if (!wants.some((w) => w.toLowerCase() === got.toLowerCase())) return false;
      } else if (op === 'StringEquals') {
        if (!wants.includes(got)) return false;
      } else return false;
    }
  }
  return true;
}

/** Explicit deny wins, then any allow; no policy = the default policy (the account may do all). */
function allows(policy: string | null, action: string, facts: Map<string, string>): boolean {
  if (policy === null) return true;
  const statements = (JSON.parse(policy) as { Statement: Statement[] }).Statement;
  const applicable = statements.filter(
    (s) => actionMatches(s.Action, action) && conditionHolds(s.Condition, facts),
  );
  if (applicable.some((s) => s.Effect === 'Deny')) return false;
  return applicable.some((s) => s.Effect === 'Allow');
}

/** CMS EnvelopedData (RFC 5652 §6.1) of `plaintext` for `rsa`, as KMS writes CiphertextForRecipient. */
function envelopedData(plaintext: Buffer, rsa: KeyObject): Buffer {
  const cek = randomBytes(32);
  const iv = randomBytes(16);
  const c = createCipheriv('aes-256-cbc', cek, iv);
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  const wrapped = publicEncrypt(
    { key: rsa, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    cek,
  );
  const sha256 = new AlgorithmIdentifier({ algorithm: id_sha256, parameters: null });
  const oaep = new KeyEncryptionAlgorithmIdentifier({
    algorithm: id_RSAES_OAEP,
    parameters: AsnConvert.serialize(
      new RsaEsOaepParams({
        hashAlgorithm: sha256,
        maskGenAlgorithm: new AlgorithmIdentifier({
          algorithm: id_mgf1,
          parameters: AsnConvert.serialize(sha256),
        }),
      }),
    ),
  });
  const spki = rsa.export({ type: 'spki', format: 'der' });
  const env = new EnvelopedData({
    version: CMSVersion.v2,
    recipientInfos: new RecipientInfos([
      new RecipientInfo({
        ktri: new KeyTransRecipientInfo({
          version: CMSVersion.v2,
          rid: new RecipientIdentifier({
            subjectKeyIdentifier: new SubjectKeyIdentifier(
              createHash('sha1').update(spki).digest(),
            ),
          }),
          keyEncryptionAlgorithm: oaep,
          encryptedKey: new OctetString(wrapped),
        }),
      }),
    ]),
    encryptedContentInfo: new EncryptedContentInfo({
      contentType: id_data,
      contentEncryptionAlgorithm: new ContentEncryptionAlgorithmIdentifier({
        algorithm: '2.16.840.1.101.3.4.1.42',
        parameters: AsnConvert.serialize(new OctetString(iv)),
      }),
      encryptedContent: new EncryptedContent({ value: new OctetString(ct) }),
    }),
  });
  return Buffer.from(
    AsnConvert.serialize(
      new ContentInfo({ contentType: id_envelopedData, content: AsnConvert.serialize(env) }),
    ),
  );
}
