import { beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeBundle } from '../../src/bundle/node.js';
import { findImage } from '../../src/catalog/index.js';
import { loadImageCatalog } from '../../src/catalog/node.js';
import type { BundleVerification, BundleVerified, TrustPolicy } from '../../src/verify/index.js';
import { VERIFY_ERROR_CODES, verifyBundle } from '../../src/verify/index.js';
import { openBundleFile } from '../../src/verify/node.js';
import { pcr4ForInstanceId } from '../../src/attestation/index.js';
import type { ProvenanceStatement } from '../../src/provenance/index.js';
import { serializeStatement } from '../../src/provenance/index.js';
import { toHex } from '../../src/util/hex.js';
import { rawTarGz, requiredMembers } from '../support/bundles/bundle-raw.js';
import {
  ATTESTED_AT,
  BUILDERS,
  DEFAULT_COMMIT,
  DEFAULT_NONCE,
  VERIFIED_AT,
  builderPcr3,
  makeBundle,
  rebundle,
  type MadeBundle,
  type SimulatedBuilder,
} from '../support/bundles/bundle-factory.js';
import { simulatedPolicy, trusted } from '../support/bundles/verify-policy.js';
import { tempDirSync } from '../support/temp.js';

const te = new TextEncoder();
const td = new TextDecoder();
const opts = { now: VERIFIED_AT };

function verified(r: BundleVerification): BundleVerified {
  if (!r.ok) throw new Error(`expected a verified bundle, got ${r.code}: ${r.message}`);
  return r;
}

/** Every refusal code a test below makes happen (checked against VERIFY_ERROR_CODES at the end). */
const seen = new Set<string>();
async function refusedWith(
  source: Uint8Array,
  policy: TrustPolicy,
  code: string,
): Promise<Extract<BundleVerification, { ok: false }>> {
  const r = await verifyBundle(source, policy, opts);
  expect(r).toBeRefusedWith(code);
  seen.add(code);
  return r as Extract<BundleVerification, { ok: false }>;
}

const OTHER_NONCE = 'ab'.repeat(20);

/**
 * A provenance rewrite that records the NSM facts as the worker does (internalParameters.nsm:
 * module id, PCR3, PCR4), for a bundle the factory attests as `b`.
 */
function recordingNsm(b: SimulatedBuilder): (bytes: Uint8Array) => Uint8Array {
  return (bytes) => {
    const st = JSON.parse(td.decode(bytes)) as ProvenanceStatement;
    st.predicate.buildDefinition.internalParameters.nsm = {
      moduleId: `${b.instanceId}-enc0123456789abcdef`,
      digest: 'SHA384',
      version: '1.0.0',
      pcr3: builderPcr3(b),
      pcr4: toHex(pcr4ForInstanceId(b.instanceId)),
    };
    return serializeStatement(st);
  };
}

let good: MadeBundle;
let policy: TrustPolicy;

beforeAll(async () => {
  good = await makeBundle();
  policy = await simulatedPolicy();
});

describe('verifyBundle: a genuine simulated bundle', () => {
  it('when a bundle made with the software NSM is verified, it returns what was built, from what, in which image, by whom, marked simulated', async () => {
    const r = verified(await verifyBundle(good.bytes, policy, opts));
    expect(r.simulated).toBe(true);
    expect(r.debug).toBe(false);
    expect(r.subjects.map((s) => s.name)).toEqual([
      'target/release/VERSION',
      'target/release/hello',
    ]);
    expect(r.subjects).toEqual(
      good.statement.subject.map((s) => ({ name: s.name, sha256: s.digest.sha256 })),
    );
    expect(r.source).toEqual({
      repository: 'https://github.com/example/hello',
      commit: DEFAULT_COMMIT,
      tree: good.statement.predicate.buildDefinition.externalParameters.source.gitTree,
    });
    expect(r.image).toEqual({
      name: good.image.name,
      version: good.image.version,
      ...good.image.simulated,
    });
    expect(r.builder).toEqual({ pcr3: good.pcr3, name: null });
    expect(r.nonce).toBe(DEFAULT_NONCE);
    expect(r.timestamp).toBe(ATTESTED_AT);
  });

  it('when the policy lists the builder, the result names it', async () => {
    const r = verified(await verifyBundle(good.bytes, { ...policy, builders: trusted() }, opts));
    expect(r.builder).toEqual({ pcr3: builderPcr3(BUILDERS[0]!), name: 'alpha' });
  });

  it('when the bundle is written to disk by writeBundle and streamed back, it verifies the same', async () => {
    const file = join(tempDirSync('bundles-'), 'hello.bundle.tar.gz');
    await writeBundle(file, {
      provenance: good.contents.provenance,
      attestation: good.contents.attestation,
      log: good.contents.log,
      artifacts: [...good.contents.artifacts].map(([name, bytes]) => ({ name, bytes })),
    });
    const r = verified(await verifyBundle(await openBundleFile(file), policy, opts));
    expect(r.subjects).toEqual(verified(await verifyBundle(good.bytes, policy, opts)).subjects);
  });

  it('when verified long after the ~3 h leaf certificate expired, it still verifies (chain checked at the document time)', async () => {
    const r = await verifyBundle(good.bytes, policy, { now: ATTESTED_AT + 400 * 24 * 3600 * 1000 });
    expect(r.ok).toBe(true);
  });

  it('when the expected nonce, commit, repository and a PCR4 expectation all hold, it verifies (commit compared case-insensitively)', async () => {
    const r = await verifyBundle(
      good.bytes,
      {
        ...policy,
        nonce: DEFAULT_NONCE,
        source: {
          commit: DEFAULT_COMMIT.toUpperCase(),
          repository: 'git@github.com:Example/Hello.git',
        },
        pcrs: new Map([[3, good.pcr3]]),
      },
      opts,
    );
    expect(r.ok).toBe(true);
  });

  it('when a node image bundle is verified, the image block names the node image', async () => {
    const b = await makeBundle({ language: 'node' });
    const r = verified(await verifyBundle(b.bytes, policy, opts));
    expect(r.image.name).toBe(b.image.name);
    expect(r.image.pcr0).toBe(b.image.simulated.pcr0);
  });
});

describe('verifyBundle: each tampering is refused with its own code', () => {
  it('when one artifact byte is changed, it refuses with SUBJECT_DIGEST_MISMATCH naming the subject', async () => {
    const bytes = await rebundle(good.contents, (c) => {
      const a = c.artifacts.get('target/release/hello')!.slice();
      a[5]! ^= 1;
      c.artifacts.set('target/release/hello', a);
    });
    const r = await refusedWith(bytes, policy, 'SUBJECT_DIGEST_MISMATCH');
    expect(r.path).toBe('subject.1.digest.sha256');
    expect(r.message).toContain('artifacts/target/release/hello');
  });

  it('when a provenance field is edited, it refuses: the attestation no longer covers it (USER_DATA_MISMATCH)', async () => {
    const bytes = await rebundle(good.contents, (c) => {
      c.provenance = te.encode(td.decode(c.provenance).replace(DEFAULT_COMMIT, 'f'.repeat(40)));
    });
    const r = await refusedWith(bytes, policy, 'USER_DATA_MISMATCH');
    expect(r.message).toMatch(/^provenance\.json was altered after it was attested: /);
    expect(r.path).toBe('attestation.payload.user_data');
  });

  it('when a provenance field is edited and the provenance records the NSM facts, it is still USER_DATA_MISMATCH', async () => {
    const b = await makeBundle({ provenance: recordingNsm(BUILDERS[0]!) });
    expect(await verifyBundle(b.bytes, policy, opts)).toMatchObject({ ok: true });
    const bytes = await rebundle(b.contents, (c) => {
      c.provenance = te.encode(td.decode(c.provenance).replace(DEFAULT_COMMIT, 'f'.repeat(40)));
    });
    await refusedWith(bytes, policy, 'USER_DATA_MISMATCH');
  });

  it('when only whitespace is added to provenance.json, it refuses with USER_DATA_MISMATCH', async () => {
    const bytes = await rebundle(good.contents, (c) => {
      c.provenance = te.encode(`${td.decode(c.provenance)}\n`);
    });
    await refusedWith(bytes, policy, 'USER_DATA_MISMATCH');
  });

  it('when the attestation comes from another bundle of the same builder, it refuses with ATTESTATION_MISMATCH naming the nonce', async () => {
    const other = await makeBundle({
      outputs: { 'target/release/hello': 'another build' },
      nonce: OTHER_NONCE,
    });
    const bytes = await rebundle(good.contents, (c) => {
      c.attestation = other.contents.attestation;
    });
    const r = await refusedWith(bytes, policy, 'ATTESTATION_MISMATCH');
    expect(r.message).toMatch(/^the attestation belongs to another build: /);
    expect(r.message).toContain(`its nonce ${OTHER_NONCE} differs`);
    expect(r.message).not.toContain('PCR3');
    expect(r.path).toBe('attestation.payload.user_data');
  });

  it('when the attestation comes from another builder with the same nonce, it refuses with ATTESTATION_MISMATCH naming the NSM facts', async () => {
    const [alpha, beta] = BUILDERS as [SimulatedBuilder, SimulatedBuilder];
    const mine = await makeBundle({ builder: alpha, provenance: recordingNsm(alpha) });
    const theirs = await makeBundle({ builder: beta, provenance: recordingNsm(beta) });
    const bytes = await rebundle(mine.contents, (c) => {
      c.attestation = theirs.contents.attestation;
    });
    const r = await refusedWith(bytes, policy, 'ATTESTATION_MISMATCH');
    expect(r.message).toContain(`its NSM module id ${beta.instanceId}-enc`);
    expect(r.message).toContain(`its PCR3 ${builderPcr3(beta)} differs`);
    expect(r.message).toContain('its PCR4 ');
    expect(r.message).not.toContain('its nonce');
  });

  it('when the attestation comes from another builder with another nonce, it refuses with ATTESTATION_MISMATCH', async () => {
    const theirs = await makeBundle({ builder: BUILDERS[1]!, nonce: OTHER_NONCE });
    const bytes = await rebundle(good.contents, (c) => {
      c.attestation = theirs.contents.attestation;
    });
    await refusedWith(bytes, policy, 'ATTESTATION_MISMATCH');
  });

  it("when another build's attestation records the same facts as the provenance, it is still refused (USER_DATA_MISMATCH)", async () => {
    const other = await makeBundle({ outputs: { 'target/release/hello': 'another build' } });
    const bytes = await rebundle(good.contents, (c) => {
      c.attestation = other.contents.attestation;
    });
    await refusedWith(bytes, policy, 'USER_DATA_MISMATCH');
  });

  it('when the attestation comes from another bundle and provenance.json is also edited out of shape, it is USER_DATA_MISMATCH', async () => {
    const other = await makeBundle({ nonce: OTHER_NONCE });
    const bytes = await rebundle(good.contents, (c) => {
      c.attestation = other.contents.attestation;
      c.provenance = te.encode(`${td.decode(c.provenance)}\n`);
    });
    await refusedWith(bytes, policy, 'USER_DATA_MISMATCH');
  });

  it('when the caller expects another nonce, it refuses with NONCE_MISMATCH', async () => {
    await refusedWith(good.bytes, { ...policy, nonce: 'ab'.repeat(16) }, 'NONCE_MISMATCH');
  });

  it('when the statement records a nonce other than the attested one, it refuses with NONCE_DIFFERS', async () => {
    const b = await makeBundle({ attestedNonce: 'cd'.repeat(16) });
    const r = await refusedWith(b.bytes, policy, 'NONCE_DIFFERS');
    expect(r.path).toBe('predicate.buildDefinition.internalParameters.nonce');
  });

  it('when the source commit is not the expected one, it refuses with COMMIT_MISMATCH', async () => {
    await refusedWith(
      good.bytes,
      { ...policy, source: { commit: 'a'.repeat(40) } },
      'COMMIT_MISMATCH',
    );
  });

  it('when the source has no commit but one is expected, it refuses with COMMIT_MISMATCH', async () => {
    const b = await makeBundle({ commit: null });
    await refusedWith(
      b.bytes,
      { ...policy, source: { commit: DEFAULT_COMMIT } },
      'COMMIT_MISMATCH',
    );
  });

  it('when the repository is not the expected one, it refuses with REPOSITORY_MISMATCH', async () => {
    await refusedWith(
      good.bytes,
      { ...policy, source: { repository: 'https://github.com/example/other' } },
      'REPOSITORY_MISMATCH',
    );
  });

  it('when the image is not in the policy, it refuses with IMAGE_UNTRUSTED', async () => {
    const onlyNode = policy.images.filter((i) => i.name !== good.image.name);
    expect(onlyNode.length).toBeGreaterThan(0);
    await refusedWith(good.bytes, { ...policy, images: onlyNode }, 'IMAGE_UNTRUSTED');
  });

  it('when the attested PCRs are not a published image at all, it refuses with IMAGE_UNTRUSTED', async () => {
    const b = await makeBundle({
      pcrs: { pcr0: '11'.repeat(48), pcr1: '22'.repeat(48), pcr2: '33'.repeat(48) },
    });
    await refusedWith(b.bytes, policy, 'IMAGE_UNTRUSTED');
  });

  it('when a simulated bundle is checked against real measurements only, it refuses with IMAGE_UNTRUSTED', async () => {
    const real = policy.images.map((i) => ({
      ...i,
      simulated: undefined,
      pcr0: '11'.repeat(48),
      pcr1: '22'.repeat(48),
      pcr2: '33'.repeat(48),
    }));
    await refusedWith(good.bytes, { ...policy, images: real }, 'IMAGE_UNTRUSTED');
  });

  it('when the provenance names another image than the one attested, it refuses with IMAGE_MISMATCH', async () => {
    const catalog = await loadImageCatalog();
    const node = findImage(catalog, { language: 'node' });
    const b = await makeBundle({
      statementImage: { name: node.name, version: node.version, ...node.simulated },
    });
    const r = await refusedWith(b.bytes, policy, 'IMAGE_MISMATCH');
    expect(r.path).toBe('predicate.buildDefinition.internalParameters.image');
  });

  it('when the provenance names the right image with other PCRs, it refuses with IMAGE_MISMATCH', async () => {
    const b = await makeBundle({
      statementImage: {
        name: good.image.name,
        version: good.image.version,
        ...good.image.simulated,
        pcr2: '44'.repeat(48),
      },
    });
    await refusedWith(b.bytes, policy, 'IMAGE_MISMATCH');
  });

  it('when the builder is not in the policy, it refuses with BUILDER_UNTRUSTED', async () => {
    const r = await refusedWith(
      good.bytes,
      { ...policy, builders: trusted(BUILDERS.slice(1)) },
      'BUILDER_UNTRUSTED',
    );
    expect(r.message).toContain(good.pcr3);
  });

  it('when an extra PCR expectation fails, it refuses with PCR_MISMATCH naming the PCR', async () => {
    const r = await refusedWith(
      good.bytes,
      { ...policy, pcrs: new Map([[4, '55'.repeat(48)]]) },
      'PCR_MISMATCH',
    );
    expect(r.path).toBe('attestation.pcrs.4');
  });

  it('when a debug-mode bundle is verified without allowDebug, it refuses with DEBUG_MODE; with it, it verifies and says debug', async () => {
    const b = await makeBundle({ debug: true });
    await refusedWith(b.bytes, policy, 'DEBUG_MODE');
    const r = verified(await verifyBundle(b.bytes, { ...policy, allowDebug: true }, opts));
    expect(r.debug).toBe(true);
    expect(r.image.pcr0).toBe('00'.repeat(48));
  });

  it('when a simulated bundle is verified without allowSimulated, it refuses with SIMULATED_NOT_ALLOWED', async () => {
    const r = await refusedWith(
      good.bytes,
      { ...policy, allowSimulated: false },
      'SIMULATED_NOT_ALLOWED',
    );
    expect(r.message).toContain('SIMULATED');
  });

  it('when a simulated bundle is also tampered with, it still says SIMULATED_NOT_ALLOWED first', async () => {
    const bytes = await rebundle(good.contents, (c) => {
      c.provenance = te.encode(`${td.decode(c.provenance)} `);
    });
    await refusedWith(bytes, { ...policy, allowSimulated: false }, 'SIMULATED_NOT_ALLOWED');
  });

  it('when a subject is missing from the archive, it refuses with SUBJECT_MISSING', async () => {
    const bytes = await rebundle(good.contents, (c) =>
      c.artifacts.delete('target/release/VERSION'),
    );
    const r = await refusedWith(bytes, policy, 'SUBJECT_MISSING');
    expect(r.path).toBe('subject.0');
  });

  it('when the archive holds an artifact that is not a subject, it refuses with ARTIFACT_UNEXPECTED', async () => {
    const bytes = await rebundle(good.contents, (c) =>
      c.artifacts.set('target/release/backdoor', te.encode('x')),
    );
    const r = await refusedWith(bytes, policy, 'ARTIFACT_UNEXPECTED');
    expect(r.message).toContain('artifacts/target/release/backdoor');
  });

  it('when the attested provenance is not a valid statement, it refuses with PROVENANCE_INVALID and the path', async () => {
    const b = await makeBundle({
      provenance: (bytes) =>
        te.encode(td.decode(bytes).replace('"network":"none"', '"network":"host"')),
    });
    const r = await refusedWith(b.bytes, policy, 'PROVENANCE_INVALID');
    expect(r.path).toBe('predicate.buildDefinition.internalParameters.network');
  });

  it('when the attested provenance is not in canonical form, it refuses with PROVENANCE_INVALID', async () => {
    const b = await makeBundle({
      provenance: (bytes) =>
        te.encode(JSON.stringify(JSON.parse(td.decode(bytes)) as unknown, null, 2)),
    });
    const r = await refusedWith(b.bytes, policy, 'PROVENANCE_INVALID');
    expect(r.message).toContain('canonical');
  });

  it('when the attestation is older than maxAgeSeconds, it refuses with DOCUMENT_TOO_OLD', async () => {
    await refusedWith(good.bytes, { ...policy, maxAgeSeconds: 30 }, 'DOCUMENT_TOO_OLD');
  });

  it('when the attestation is not a COSE document, the attestation code passes through unchanged', async () => {
    const bytes = await rebundle(good.contents, (c) => {
      c.attestation = te.encode('not cbor at all');
    });
    const r = await verifyBundle(bytes, policy, opts);
    expect(r.ok).toBe(false);
    expect((r as { code: string }).code).toMatch(/^(CBOR|COSE)_/);
    expect((r as { path?: string }).path).toMatch(/^attestation/);
  });

  it("when the attestation is a genuine AWS Nitro document of another enclave, it chains to AWS and is refused as another build's (ATTESTATION_MISMATCH)", async () => {
    const doc = readFileSync(new URL('../fixtures/nitro/doc-anjuna-1.cbor', import.meta.url));
    const bytes = await rebundle(good.contents, (c) => {
      c.attestation = new Uint8Array(doc);
    });
    const r = await refusedWith(
      bytes,
      { ...policy, allowSimulated: false },
      'ATTESTATION_MISMATCH',
    );
    expect(r.message).toContain('its nonce ');
  });
});

describe('verifyBundle: hostile or malformed bundles are refused with BUNDLE_MALFORMED', () => {
  it.each([
    ['a path escape', { name: 'artifacts/../../x', data: 'x' }, 'ARCHIVE_UNSAFE_PATH'],
    ['a member outside the layout', { name: 'README', data: 'x' }, 'BUNDLE_MEMBER_UNEXPECTED'],
  ])(
    'when the archive holds %s, the reason is the archive or layout code',
    async (_what, member, reason) => {
      const r = await refusedWith(
        rawTarGz([...requiredMembers(), member]),
        policy,
        'BUNDLE_MALFORMED',
      );
      expect(r.reason).toBe(reason);
    },
  );

  it.each([
    ['a symlink', { name: 'artifacts/l', typeflag: '2', linkname: '/etc/shadow' }],
    ['a device', { name: 'artifacts/sda', typeflag: '4' }],
    ['a directory', { name: 'artifacts/d/', typeflag: '5' }],
  ])(
    'when the archive holds %s, which the writer never writes, it refuses with BUNDLE_NONCANONICAL naming the member',
    async (_what, member) => {
      const r = await refusedWith(
        rawTarGz([...requiredMembers(), member]),
        policy,
        'BUNDLE_NONCANONICAL',
      );
      expect(r.path).toBe(member.name);
    },
  );

  it('when attestation.cbor is missing, it refuses naming the member', async () => {
    const r = await refusedWith(
      rawTarGz(requiredMembers().filter((m) => m.name !== 'attestation.cbor')),
      policy,
      'BUNDLE_MALFORMED',
    );
    expect(r.reason).toBe('BUNDLE_MEMBER_MISSING');
    expect(r.path).toBe('attestation.cbor');
  });

  it('when the bytes are not an archive, it refuses with BUNDLE_MALFORMED', async () => {
    await refusedWith(te.encode('garbage'), policy, 'BUNDLE_MALFORMED');
  });
});

describe('verifyBundle: coverage of the refusal codes', () => {
  it('when every single-bundle code has been made to happen above, none is left untested', () => {
    const single = VERIFY_ERROR_CODES.filter(
      (c) =>
        ![
          'SOURCE_DIVERGENT',
          'QUORUM_NOT_MET',
          'OUTPUTS_CONFLICT',
          'NO_BUNDLES',
          'POLICY_INVALID',
          // The builder signature's codes: test/verify/envelope.test.ts.
          'ENVELOPE_MALFORMED',
          'ENVELOPE_PAYLOAD_MISMATCH',
          'ENVELOPE_KEY_NOT_ATTESTED',
          'ENVELOPE_SIGNATURE_INVALID',
          'BUILDER_KEY_MISMATCH',
          'BUILDER_SIGNATURE_MISSING',
          // The source's origin: made to happen in test/verify/origin.test.ts.
          'SOURCE_UNSIGNED',
          'SOURCE_SIGNATURE_INVALID',
          'SOURCE_SIGNER_UNTRUSTED',
          'SOURCE_TAG_MISMATCH',
          'WORKFLOW_REQUIRED',
          'WORKFLOW_MISMATCH',
        ].includes(c),
    );
    expect(single.filter((c) => !seen.has(c))).toEqual([]);
  });
});
