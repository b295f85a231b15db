/**
 * An attestation document dropped alone: whether it is a genuine AWS Nitro document (chain,
 * signature, nonce when expected) and what it says: the enclave, time, PCRs, nonce, user data.
 */
import { SIMULATION_ROOT } from '../../src/attestation/index.js';
import type { AttestationDocument } from '../../src/attestation/index.js';
import { toHex } from '../../src/util/hex.js';
import { facts, h, hex } from './dom.js';
import { refusal, verdict } from './render.js';
import type { AttestationOutcome } from './verify.js';

const PCR_MEANING: Record<number, string> = {
  0: 'enclave image',
  1: 'kernel and boot ramdisk',
  2: 'application',
  3: 'IAM role of the host (the builder)',
  4: 'instance id of the host',
  8: 'image signing certificate',
};

function pcrTable(d: AttestationDocument): HTMLElement {
  const rows = [...d.pcrs.entries()]
    .filter(([, v]) => v.some((b) => b !== 0))
    .sort(([a], [b]) => a - b);
  return h(
    'table',
    { class: 'list' },
    h('thead', {}, h('tr', {}, h('th', {}, 'PCR'), h('th', {}, 'measures'), h('th', {}, 'value'))),
    h(
      'tbody',
      {},
      rows.map(([i, v]) =>
        h(
          'tr',
          {},
          h('td', {}, String(i)),
          h('td', {}, PCR_MEANING[i] ?? ''),
          h('td', {}, hex(toHex(v))),
        ),
      ),
    ),
  );
}

/** The result of checking one attestation document. */
export function attestationView(o: AttestationOutcome): HTMLElement {
  const r = o.result;
  if (!r.ok) {
    return verdict(
      false,
      false,
      `${o.name} is not a valid AWS Nitro attestation document.`,
      refusal({
        code: r.code,
        message: r.message,
        ...(r.path === undefined ? {} : { path: r.path }),
      }),
    );
  }
  const d = r.document;
  const simulated = r.trustAnchor.name === SIMULATION_ROOT.name;
  return h(
    'div',
    {},
    verdict(
      true,
      simulated,
      `${o.name} is a genuine attestation document${simulated ? ' of the simulator' : ' signed by AWS Nitro hardware'}${r.debug ? ' (from a debug-mode enclave: nothing about its image is measured)' : ''}.`,
      null,
    ),
    h(
      'section',
      { class: 'bundles' },
      h(
        'article',
        { class: 'bundle ok' },
        h('h3', {}, h('span', { class: 'chip' }, 'attestation'), ' ', o.name),
        facts([
          [
            'Signed by',
            `${simulated ? 'the simulation root (NOT AWS hardware)' : 'AWS Nitro'}: ${1 + d.cabundle.length} certificates chained to ${r.trustAnchor.name}, checked at the document's own time`,
          ],
          ['Enclave', d.moduleId],
          ['Time', new Date(d.timestamp).toISOString()],
          ['Nonce', d.nonce === null ? 'none' : hex(toHex(d.nonce))],
          ['User data', d.userData === null ? 'none' : hex(toHex(d.userData))],
          ['Public key', d.publicKey === null ? 'none' : hex(toHex(d.publicKey))],
        ]),
        h('h4', {}, 'Measurements (non-zero PCRs)'),
        pcrTable(d),
      ),
    ),
  );
}
