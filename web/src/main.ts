/**
 * The page: drop or pick bundles (or an attestation document) and a policy file, or name them in
 * the link (`?bundle=<url>` repeatable, `&policy=<url>`, `&nonce=<hex>`, `&commit=<id>`); verify;
 * show the result. The result is also on the root element for tests and tools: `data-state`
 * (idle | working | done), `data-verdict` (verified | refused, or error when nothing could be
 * judged) and `data-code` (the refusal code, empty when verified).
 */
import { config } from 'zod';
import { MAX_POLICY_BYTES } from '../../src/index.js';
import { attestationView } from './attestation-view.js';
import { h } from './dom.js';
import type { PageInput } from './inputs.js';
import {
  FetchFailure,
  fetchInput,
  fileInput,
  isAttestation,
  nameOfUrl,
  readUpTo,
} from './inputs.js';
import { bundlesView, errorView } from './render.js';
import type { AttestationOutcome, ErrorOutcome, Outcome, Settings } from './verify.js';
import { policyOrError, verifyDocument, verifyInputs } from './verify.js';

// The Content-Security-Policy allows no eval: tell zod not to try compiling its checks.
config({ jitless: true });

/** Something to verify: a file the person gave, or a URL from the link (fetched again each run). */
type Source = { file: File } | { url: string };

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const root = document.documentElement;
const filesInput = $<HTMLInputElement>('files');
const policyInput = $<HTMLInputElement>('policy');
const commitInput = $<HTMLInputElement>('commit');
const nonceInput = $<HTMLInputElement>('nonce');
const simulatedInput = $<HTMLInputElement>('simulated');
const drop = $<HTMLLabelElement>('drop');
const policyNote = $('policy-note');
const progress = $('progress');
const result = $('result');

let sources: Source[] = [];
let policySource: Source | null = null;
let running = 0;

function sourceName(s: Source): string {
  return 'file' in s ? s.file.name : nameOfUrl(s.url);
}

async function open(s: Source): Promise<PageInput> {
  return 'file' in s ? fileInput(s.file) : fetchInput(s.url);
}

function fetchError(e: FetchFailure): ErrorOutcome {
  return { kind: 'error', code: 'FETCH_REFUSED', message: e.message, url: e.url };
}

async function settings(): Promise<Settings | ErrorOutcome> {
  const s: Settings = {
    allowSimulated: simulatedInput.checked,
    commit: commitInput.value.trim(),
    nonce: nonceInput.value.trim(),
  };
  if (policySource !== null) {
    const input = await open(policySource);
    // One byte past the limit, so that the policy parser refuses an oversized file itself.
    s.policy = { name: input.name, bytes: await readUpTo(input, MAX_POLICY_BYTES + 1) };
  }
  return s;
}

function progressRow(name: string, size: number | null): (read: number) => void {
  const bar = h('progress', { max: String(size ?? 1), value: '0' });
  const label = h('span', {}, `Reading ${name}…`);
  progress.append(h('div', {}, label, bar));
  return (read) => {
    if (size === null) bar.removeAttribute('value');
    else bar.value = Math.min(read, size);
    label.textContent = `Reading ${name}: ${(read / 1e6).toFixed(1)} MB${size === null ? '' : ` of ${(size / 1e6).toFixed(1)} MB`}`;
  };
}

/** Sets the result attributes of the root element. */
function mark(state: 'idle' | 'working' | 'done', verdict = '', code = ''): void {
  root.dataset.state = state;
  root.dataset.verdict = verdict;
  root.dataset.code = code;
}

function show(outcomes: Outcome[]): void {
  result.replaceChildren(
    ...outcomes.map((o) =>
      o.kind === 'bundles'
        ? bundlesView(o)
        : o.kind === 'attestation'
          ? attestationView(o)
          : errorView(o),
    ),
  );
  const error = outcomes.find((o) => o.kind === 'error');
  if (error !== undefined) return mark('done', 'error', error.code);
  const refused = outcomes.map(codeOf).find((c) => c !== null);
  mark('done', refused === undefined ? 'verified' : 'refused', refused ?? '');
}

function codeOf(o: Outcome): string | null {
  if (o.kind === 'bundles') return o.report.ok ? null : (o.report.code ?? '');
  if (o.kind === 'attestation') return o.result.ok ? null : o.result.code;
  return o.code;
}

async function verifyAll(): Promise<Outcome[]> {
  const s = await settings();
  if ('kind' in s) return [s];
  const policy = policyOrError(s);
  if ('kind' in policy) return [policy];
  // A policy file can accept simulated builds by itself: say so next to the switch.
  policyNote.textContent =
    policy.allowSimulated && !simulatedInput.checked ? ' (the policy file accepts them)' : '';
  const inputs = await Promise.all(sources.map(open));
  const docs: PageInput[] = [];
  const bundles: PageInput[] = [];
  for (const input of inputs) ((await isAttestation(input)) ? docs : bundles).push(input);
  const rows = new Map(inputs.map((i) => [i, progressRow(i.name, i.size)]));
  const out: Outcome[] = [];
  if (bundles.length > 0) {
    out.push(await verifyInputs(bundles, policy, (i, read) => rows.get(bundles[i]!)?.(read)));
  }
  for (const d of docs) {
    const o: AttestationOutcome = await verifyDocument(d, policy, (read) => rows.get(d)?.(read));
    out.push(o);
  }
  return out;
}

async function run(): Promise<void> {
  if (sources.length === 0) return;
  const mine = ++running;
  mark('working');
  progress.replaceChildren();
  result.replaceChildren(
    h('p', { class: 'note' }, `Verifying ${sources.map(sourceName).join(', ')}…`),
  );
  let outcomes: Outcome[];
  try {
    outcomes = await verifyAll();
  } catch (e) {
    if (!(e instanceof FetchFailure)) {
      // A bug, not a verdict: say so rather than show a result.
      outcomes = [{ kind: 'error', code: 'INTERNAL_ERROR', message: String(e) }];
      console.error(e);
    } else outcomes = [fetchError(e)];
  }
  if (mine !== running) return; // a newer run replaced this one
  progress.replaceChildren();
  show(outcomes);
}

function useFiles(files: FileList | null): void {
  if (files === null || files.length === 0) return;
  sources = Array.from(files, (file) => ({ file }));
  void run();
}

filesInput.addEventListener('change', () => useFiles(filesInput.files));
policyInput.addEventListener('change', () => {
  const f = policyInput.files?.[0];
  policySource = f === undefined ? null : { file: f };
  void run();
});
for (const el of [simulatedInput, commitInput, nonceInput])
  el.addEventListener('change', () => void run());
document.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
document.addEventListener('dragleave', () => drop.classList.remove('over'));
document.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  useFiles(e.dataTransfer?.files ?? null);
});
$('form').addEventListener('submit', (e) => e.preventDefault());

// The link's settings: bundles and policy fetched, nonce and commit filled in.
const params = new URLSearchParams(location.search);
commitInput.value = params.get('commit') ?? '';
nonceInput.value = params.get('nonce') ?? '';
const policyUrl = params.get('policy');
if (policyUrl !== null && policyUrl !== '') policySource = { url: policyUrl };
sources = params
  .getAll('bundle')
  .filter((u) => u !== '')
  .map((url) => ({ url }));
mark('idle');
void run();
