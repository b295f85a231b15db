/**
 * The chain of custody of one verified bundle, as the design draws it: source -> dependencies ->
 * toolchain image -> attestation -> outputs. Every value shown comes from the verified statement
 * and document; whether it was checked against the policy or is only recorded is said each time.
 */
import type { BundleVerified, TrustPolicy } from '../../src/index.js';
import type { ResourceDescriptor } from '../../src/provenance/index.js';
import { copyButton, facts, h, hex, simulatedMark } from './dom.js';

function step(title: string, simulated: boolean, ...body: (Node | null)[]): HTMLElement {
  return h(
    'li',
    { class: 'step' },
    h('h4', {}, title, simulated ? ' ' : '', simulated ? simulatedMark() : null),
    ...body,
  );
}

const isToolchain = (d: ResourceDescriptor): boolean => d.annotations?.toolchain === true;

function digestText(d: ResourceDescriptor): string {
  return Object.entries(d.digest ?? {})
    .map(([alg, v]) => `${alg}:${v}`)
    .join(' ');
}

function sourceStep(v: BundleVerified, policy: TrustPolicy): HTMLElement {
  const repo = v.source.repository;
  const wantRepo = policy.source?.repository;
  const wantCommit = policy.source?.commit;
  return step(
    'Source',
    v.simulated,
    facts([
      [
        'Repository',
        repo === null
          ? 'not recorded'
          : [
              h('span', { class: 'value' }, repo),
              h(
                'span',
                { class: 'note' },
                wantRepo !== undefined
                  ? ' (checked: the one the policy expects)'
                  : ' (as the build recorded it: a label, not checked; a policy with source.repository checks it)',
              ),
            ],
      ],
      [
        'Commit',
        v.source.commit === null
          ? 'none (a tree without a commit)'
          : [
              hex(v.source.commit),
              h(
                'span',
                { class: 'note' },
                wantCommit !== undefined
                  ? ' (checked: the expected commit)'
                  : ' (as recorded; give the expected commit to check it)',
              ),
            ],
      ],
      ['Tree', hex(v.source.tree)],
      ['Signer', 'not recorded in this bundle'],
    ]),
  );
}

function dependenciesStep(v: BundleVerified): HTMLElement {
  const deps = v.statement.predicate.buildDefinition.resolvedDependencies
    .slice(1)
    .filter((d) => !isToolchain(d));
  const list = h(
    'details',
    {},
    h('summary', {}, `Show ${deps.length} dependenc${deps.length === 1 ? 'y' : 'ies'}`),
    h(
      'table',
      { class: 'list' },
      h('thead', {}, h('tr', {}, h('th', {}, 'dependency'), h('th', {}, 'checksum'))),
      h(
        'tbody',
        {},
        deps.map((d) =>
          h(
            'tr',
            {},
            h('td', {}, d.uri ?? d.name ?? '(unnamed)'),
            h('td', {}, hex(digestText(d) || 'none (unpinned)')),
          ),
        ),
      ),
    ),
  );
  return step(
    'Dependencies',
    v.simulated,
    h(
      'p',
      {},
      deps.length === 0
        ? 'None locked: the build used no third-party packages.'
        : `${deps.length} locked dependenc${deps.length === 1 ? 'y, fetched and checked against its checksum' : 'ies, each fetched and checked against its checksum'} inside the build environment.`,
    ),
    deps.length === 0 ? null : list,
  );
}

function imageStep(v: BundleVerified): HTMLElement {
  const tools = v.statement.predicate.buildDefinition.resolvedDependencies.filter(isToolchain);
  const trusted = v.debug
    ? 'not measured (debug-mode enclave, allowed by the policy)'
    : v.simulated
      ? 'yes: the simulated measurements of a trusted image'
      : 'yes: the measurements of a trusted image';
  return step(
    'Toolchain image',
    v.simulated,
    facts([
      ['Image', `${v.image.name} ${v.image.version}`],
      ['Trusted', trusted],
      ['PCR0', hex(v.image.pcr0)],
      ['PCR1', hex(v.image.pcr1)],
      ['PCR2', hex(v.image.pcr2)],
      [
        'Tools',
        tools.length === 0
          ? 'not listed'
          : tools
              .map((t) => {
                const version = t.annotations?.version;
                return `${t.name ?? '?'} ${typeof version === 'string' ? version : ''}`.trim();
              })
              .join(', '),
      ],
    ]),
  );
}

function attestationStep(v: BundleVerified): HTMLElement {
  const d = v.document;
  return step(
    'Attestation',
    v.simulated,
    facts([
      [
        'Signed by',
        v.simulated
          ? 'the software simulator (simulation root), NOT AWS Nitro hardware'
          : `AWS Nitro hardware: ${1 + d.cabundle.length} certificates chained to the AWS Nitro root G1`,
      ],
      ['Time', new Date(v.timestamp).toISOString()],
      ['Nonce', v.nonce === null ? 'none' : hex(v.nonce)],
      [
        'Builder',
        v.builder.name === null
          ? 'any builder (the policy names none): identified by its PCR3 below'
          : v.builder.name,
      ],
      ['PCR3 (builder role)', hex(v.builder.pcr3)],
      ['Enclave', d.moduleId],
    ]),
  );
}

function outputsStep(v: BundleVerified): HTMLElement {
  return step(
    'Outputs',
    v.simulated,
    h(
      'table',
      { class: 'list outputs' },
      h('thead', {}, h('tr', {}, h('th', {}, 'artifact'), h('th', {}, 'SHA-256'), h('th', {}))),
      h(
        'tbody',
        {},
        v.subjects.map((s) =>
          h(
            'tr',
            {},
            h('td', {}, s.name),
            h('td', {}, hex(s.sha256)),
            h('td', {}, copyButton(s.sha256, `Copy the SHA-256 of ${s.name}`)),
          ),
        ),
      ),
    ),
  );
}

/** The five steps of a verified bundle, in order. */
export function custody(v: BundleVerified, policy: TrustPolicy): HTMLElement {
  return h(
    'ol',
    { class: 'custody' },
    sourceStep(v, policy),
    dependenciesStep(v),
    imageStep(v),
    attestationStep(v),
    outputsStep(v),
  );
}
