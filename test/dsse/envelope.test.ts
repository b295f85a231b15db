import { describe, expect, it } from '@jest/globals';
import {
  IN_TOTO_PAYLOAD_TYPE,
  cryptoKeySigner,
  derToRaw,
  encodeEnvelope,
  importP256PrivateKey,
  keyFingerprint,
  pae,
  parseEnvelope,
  rawToDer,
  signEnvelope,
  verifyEnvelope,
} from '../../src/dsse/index.js';
import { generateKeyPairSync } from 'node:crypto';

const enc = new TextEncoder();

async function p256(): Promise<{ spki: Uint8Array; key: CryptoKey }> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const k = await importP256PrivateKey(
    new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' })),
  );
  return { spki: k.spki, key: k.privateKey };
}

describe('pae', () => {
  it('when given the DSSE spec example, it encodes it as protocol.md shows', () => {
    // DSSE protocol.md, "Signature definition", test vector.
    expect(
      new TextDecoder().decode(pae('http://example.com/HelloWorld', enc.encode('hello world'))),
    ).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  });
  it('when the type has multi-byte characters, it counts bytes, not characters', () => {
    expect(new TextDecoder().decode(pae('é', new Uint8Array(0)))).toBe('DSSEv1 2 é 0 ');
  });
});

describe('envelope', () => {
  it('when signed, it verifies with the key and round-trips through its bytes', async () => {
    const { spki, key } = await p256();
    const env = await signEnvelope(
      cryptoKeySigner(key, spki),
      IN_TOTO_PAYLOAD_TYPE,
      enc.encode('{"a":1}'),
    );
    const bytes = encodeEnvelope(env);
    const back = parseEnvelope(bytes);
    expect(`sha256:${back.signatures[0]!.keyid}`).toBe(await keyFingerprint(spki));
    await expect(verifyEnvelope(back, spki)).resolves.toBeUndefined();
  });

  it('when verified with another key, it is refused with DSSE_SIGNATURE_INVALID', async () => {
    const a = await p256();
    const b = await p256();
    const env = await signEnvelope(
      cryptoKeySigner(a.key, a.spki),
      IN_TOTO_PAYLOAD_TYPE,
      enc.encode('x'),
    );
    await expect(verifyEnvelope(env, b.spki)).rejects.toHaveCode('DSSE_SIGNATURE_INVALID');
  });

  it('when the payload type is changed, the signature no longer holds', async () => {
    const a = await p256();
    const env = await signEnvelope(
      cryptoKeySigner(a.key, a.spki),
      IN_TOTO_PAYLOAD_TYPE,
      enc.encode('x'),
    );
    await expect(verifyEnvelope({ ...env, payloadType: 'text/plain' }, a.spki)).rejects.toHaveCode(
      'DSSE_SIGNATURE_INVALID',
    );
  });

  it('when the key is not P-256, it is refused with DSSE_KEY_INVALID', async () => {
    const a = await p256();
    const env = await signEnvelope(
      cryptoKeySigner(a.key, a.spki),
      IN_TOTO_PAYLOAD_TYPE,
      enc.encode('x'),
    );
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
      type: 'spki',
      format: 'der',
    });
    await expect(verifyEnvelope(env, new Uint8Array(rsa))).rejects.toHaveCode('DSSE_KEY_INVALID');
  });

  it.each([
    ['not JSON', '{'],
    ['an array', '[]'],
    [
      'whitespace',
      '{ "payload":"eA==","payloadType":"t","signatures":[{"keyid":"k","sig":"eA=="}]}',
    ],
    [
      'a duplicate key',
      '{"payload":"eA==","payload":"eA==","payloadType":"t","signatures":[{"keyid":"k","sig":"eA=="}]}',
    ],
    [
      'an unknown field',
      '{"payload":"eA==","payloadType":"t","signatures":[{"keyid":"k","sig":"eA=="}],"x":1}',
    ],
    [
      'unpadded base64',
      '{"payload":"eA","payloadType":"t","signatures":[{"keyid":"k","sig":"eA=="}]}',
    ],
    ['no signatures', '{"payload":"eA==","payloadType":"t","signatures":[]}'],
    [
      'a signature without keyid',
      '{"payload":"eA==","payloadType":"t","signatures":[{"sig":"eA=="}]}',
    ],
  ])('when the envelope has %s, it is refused with DSSE_MALFORMED', (_what, text) => {
    expect(() => parseEnvelope(enc.encode(text))).toThrowWithCode('DSSE_MALFORMED');
  });

  it('when a DER signature is not minimal or has trailing bytes, it is refused', () => {
    const raw = new Uint8Array(64).fill(1);
    const der = rawToDer(raw);
    expect(derToRaw(der)).toEqual(raw);
    const padded = Uint8Array.from([0x30, der[1]! + 1, 0x02, 0x21, 0x00, ...der.subarray(4)]);
    expect(() => derToRaw(padded)).toThrowWithCode('DSSE_SIGNATURE_INVALID');
    expect(() => derToRaw(Uint8Array.from([...der, 0]))).toThrowWithCode('DSSE_SIGNATURE_INVALID');
  });
});
