/**
 * The result as a person reads it: the verdict first (large; SIMULATED on every part), then, for
 * several bundles, who agrees, who dissents and which files differ, then each bundle's chain of
 * custody or the plain-words reason it was refused, with its stable code.
 */
import type {
  BundleReport,
  BundleVerification,
  FileDifference,
  SetReport,
} from '../../src/index.js';
import { custody } from './custody.js';
import { h, hex, simulatedMark } from './dom.js';
import { explain } from './explain.js';
import type { BundlesOutcome, ErrorOutcome } from './verify.js';

/** A builder label as people read it: its policy name, or its PCR3 shortened. */
export function who(label: string): string {
  return /^[0-9a-f]{96}$/.test(label) ? `builder with PCR3 ${label.slice(0, 12)}…` : label;
}

/** The refusal, explained: what is wrong, what to do, the code, and the verifier's own words. */
export function refusal(r: {
  code: string;
  reason?: string;
  message: string;
  path?: string;
}): HTMLElement {
  const e = explain(r.code, r.reason);
  return h(
    'div',
    { class: 'refusal' },
    h('p', { class: 'what' }, e.what),
    h('p', { class: 'todo' }, h('strong', {}, 'What to do: '), e.todo),
    h(
      'p',
      { class: 'code' },
      'Code ',
      h('code', {}, r.code),
      r.reason === undefined ? '' : ' (',
      r.reason === undefined ? '' : h('code', {}, r.reason),
      r.reason === undefined ? '' : ')',
    ),
    h(
      'details',
      {},
      h('summary', {}, 'Technical details'),
      h('p', { class: 'message' }, r.message),
      r.path === undefined ? null : h('p', {}, 'Where: ', h('code', {}, r.path)),
    ),
  );
}

/** The large verdict at the top. */
export function verdict(
  ok: boolean,
  simulated: boolean,
  headline: string,
  detail: HTMLElement | null,
): HTMLElement {
  return h(
    'section',
    { class: `verdict ${ok ? 'ok' : 'refused'}${simulated ? ' simulated' : ''}`, role: 'status' },
    h(
      'h2',
      {},
      h('span', { class: 'mark', 'aria-hidden': 'true' }, ok ? '✔' : '✘'),
      ok ? 'Verified' : 'Refused',
      simulated ? ' ' : '',
      simulated ? simulatedMark() : null,
    ),
    h('p', { class: 'headline' }, headline),
    simulated
      ? h(
          'p',
          { class: 'sim-warning' },
          'SIMULATED: made by the software simulator on an ordinary computer, not by AWS Nitro hardware. It proves nothing about where or how the files were built; use it for testing only.',
        )
      : null,
    detail,
  );
}

function differenceRows(files: FileDifference[], reference: string): HTMLElement {
  const side = (x: FileDifference['majority']): Node =>
    x === null
      ? document.createTextNode('absent')
      : h('span', {}, hex(x.sha256), ` (${x.size} bytes)`);
  return h(
    'table',
    { class: 'list' },
    h(
      'thead',
      {},
      h('tr', {}, h('th', {}, 'file'), h('th', {}, reference), h('th', {}, 'this builder')),
    ),
    h(
      'tbody',
      {},
      files.map((f) =>
        h(
          'tr',
          {},
          h('td', {}, f.path),
          h('td', {}, side(f.majority)),
          h('td', {}, side(f.dissent)),
        ),
      ),
    ),
  );
}

function agreement(r: SetReport): HTMLElement {
  const reference = r.majority ? 'the majority' : 'group 1';
  return h(
    'section',
    { class: 'agreement' },
    h(
      'h3',
      {},
      'Who built the same files',
      r.simulated ? ' ' : '',
      r.simulated ? simulatedMark() : null,
    ),
    h(
      'p',
      { class: 'agree' },
      h('strong', {}, 'Agree: '),
      r.agreeing.length > 0
        ? r.agreeing.map(who).join(', ')
        : r.groups.length > 1
          ? 'nobody (no majority: the largest groups have as many builders)'
          : 'nobody',
    ),
    r.dissenting.length > 0
      ? h('p', { class: 'dissent' }, h('strong', {}, 'Dissent: '), r.dissenting.map(who).join(', '))
      : null,
    ...r.differences.map((d) =>
      h(
        'div',
        { class: 'difference' },
        h('p', {}, `${who(d.builder)} (${d.bundle}) built different files from ${reference}:`),
        differenceRows(d.files, reference),
      ),
    ),
    ...r.warnings.map((w) => h('p', { class: 'note' }, w)),
  );
}

function bundleCard(
  b: { bundle: string } & BundleReport,
  result: BundleVerification | undefined,
  o: BundlesOutcome,
  several: boolean,
): HTMLElement {
  const dissents =
    result?.ok === true && o.report.dissenting.includes(result.builder.name ?? result.builder.pcr3);
  const status = !b.ok ? 'refused' : dissents ? 'verified, but dissents' : 'verified';
  return h(
    'article',
    {
      class: `bundle ${b.ok ? 'ok' : 'refused'}${dissents ? ' dissenting' : ''}`,
      'data-bundle': b.bundle,
      'data-code': b.code ?? '',
    },
    h(
      'h3',
      {},
      h('span', { class: 'chip' }, status),
      ' ',
      b.bundle,
      b.simulated ? ' ' : '',
      b.simulated ? simulatedMark() : null,
    ),
    result?.ok === true
      ? h(
          'details',
          { class: 'chain', open: !several },
          h('summary', {}, 'Chain of custody: source, dependencies, image, attestation, outputs'),
          custody(result, o.policy),
        )
      : null,
    // One bundle alone: its refusal is the verdict's, explained once above.
    result !== undefined && !result.ok
      ? several
        ? refusal(result)
        : h('p', { class: 'note' }, 'Nothing in this bundle can be trusted: see why above.')
      : null,
  );
}

/** What was verified, in one sentence: files, source, builders, image. */
function verifiedHeadline(r: SetReport): string {
  const n = r.subjects.length;
  const files = `${n} file${n === 1 ? '' : 's'}`;
  const src =
    r.source === null
      ? ''
      : ` from ${r.source.repository ?? 'an unnamed repository'}${r.source.commit === null ? '' : ` at commit ${r.source.commit.slice(0, 12)}`}`;
  const by = r.agreeing.length === 0 ? '' : ` by ${r.agreeing.map(who).join(', ')}`;
  const image = r.image === null ? '' : ` in image ${r.image.name} ${r.image.version}`;
  return `${files} built${src}${by}${image}.`;
}

/** The whole result of verifying bundles. */
export function bundlesView(o: BundlesOutcome): HTMLElement {
  const r = o.report;
  const several = o.results.length > 1;
  const headline = r.ok
    ? verifiedHeadline(r)
    : several
      ? r.message
      : `${r.bundles[0]?.bundle ?? 'The bundle'} cannot be trusted.`;
  const detail = r.ok ? null : refusal({ ...r, code: r.code ?? '' });
  return h(
    'div',
    {},
    verdict(r.ok, r.simulated, headline, detail),
    several ? agreement(r) : null,
    h(
      'section',
      { class: 'bundles' },
      r.bundles.map((b) =>
        bundleCard(b, o.results.find((x) => x.bundle === b.bundle)?.result, o, several),
      ),
    ),
  );
}

/** A policy that cannot be used, or a file that could not be read: no verdict. */
export function errorView(o: ErrorOutcome): HTMLElement {
  const isFetch = o.code === 'FETCH_REFUSED';
  return h(
    'section',
    { class: 'verdict error', role: 'alert' },
    h(
      'h2',
      {},
      h('span', { class: 'mark', 'aria-hidden': 'true' }, '!'),
      isFetch ? 'Could not read a file' : 'Nothing was checked',
    ),
    isFetch
      ? h('p', { class: 'headline' }, o.message)
      : refusal({ code: o.code, message: o.message }),
    o.url === undefined
      ? null
      : h('p', {}, 'Download: ', h('a', { href: o.url, download: '', rel: 'noreferrer' }, o.url)),
    isFetch ? h('p', { class: 'code' }, 'Code ', h('code', {}, o.code)) : null,
  );
}
