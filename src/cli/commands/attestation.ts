/**
 * `tee-compile attestation verify|inspect`: check or show an AWS Nitro attestation document.
 * A thin layer over src/attestation; flags are validated here, at the edge.
 */
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  AWS_NITRO_ROOT_G1,
  AttestationError,
  MAX_DOCUMENT_BYTES,
  SIMULATION_ROOT,
  createChainCache,
  decodeAttestation,
  isAttestationError,
  isDebugDocument,
  trustAnchorFromPem,
  verifyAttestation,
  type AttestationDocument,
  type TrustAnchor,
  type VerifyAttestationOptions,
  type VerifyAttestationResult,
} from '../../attestation/index.js';
import { nodeCryptoVerifier } from '../../attestation/node.js';
import { nameToString, parseCertificate } from '../../attestation/index.js';
import { toRefusal } from '../../errors.js';
import { fromHex, isHex, toHex } from '../../util/hex.js';
import { readBoundedFile } from '../../util/node.js';
import type { CliIo } from '../io.js';
import { CommandError, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, UsageError, writeLine } from '../io.js';

const USAGE = `usage:
  tee-compile attestation verify <doc.cbor> [--at <ISO-8601|epoch-ms>] [--root <pem>]
      [--pcr <i>=<hex>]... [--nonce <hex>] [--user-data <hex>] [--public-key <hex>]
      [--max-age <seconds>] [--allow-debug] [--json]
  tee-compile attestation inspect <doc.cbor> [--json]

verify   checks the document's signature, its certificate chain to the AWS Nitro root (at the
         document's own time unless --at is given) and the expectations given; exits 0 when
         valid, 1 when refused, 2 on a usage or I/O error.
inspect  prints the decoded document without judging it.

  --at <time>          check certificate validity at this time instead of the document's
  --root <pem>         trust this root certificate instead of the AWS Nitro root G1
  --pcr <i>=<hex>      expect PCR i (0..31) to hold this value (repeatable)
  --nonce <hex>        expect this nonce
  --user-data <hex>    expect this user_data
  --public-key <hex>   expect this public_key
  --max-age <seconds>  refuse documents older than this (against this machine's clock)
  --allow-debug        accept documents from enclaves in debug mode (PCR0 all zero)
  --json               print one JSON object`;

/** Entry point of `tee-compile attestation`. */
export async function run(args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    writeLine(sub === undefined ? io.stderr : io.stdout, USAGE);
    return sub === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    writeLine(io.stdout, USAGE);
    return EXIT_OK;
  }
  if (sub === 'verify') return verifyCommand(rest, io);
  if (sub === 'inspect') return inspectCommand(rest, io);
  throw new UsageError(`unknown sub-command '${sub}' (expected verify or inspect)`);
}

function onePath(positionals: string[]): string {
  if (positionals.length !== 1)
    throw new UsageError('expected exactly one document file <doc.cbor>');
  return positionals[0]!;
}

/** A document file: its bytes, or its size when it is larger than any document can be. */
type DocumentFile = { bytes: Uint8Array } | { oversized: number };

/**
 * Reads the document file, never more than `MAX_DOCUMENT_BYTES`: a larger file is reported by its
 * size without being read. IO_ERROR when it cannot be read.
 */
async function readDocument(path: string, io: CliIo): Promise<DocumentFile> {
  const full = resolve(io.cwd, path);
  try {
    return { bytes: new Uint8Array(await readBoundedFile(full, MAX_DOCUMENT_BYTES)) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === undefined) {
      // Not a file-system error: a regular file over the bound is the document's refusal.
      const st = await stat(full).catch(() => undefined);
      if (st?.isFile() === true && st.size > MAX_DOCUMENT_BYTES) return { oversized: st.size };
    }
    throw new CommandError('IO_ERROR', `cannot read ${path}: ${code ?? (e as Error).message}`);
  }
}

/** The refusal `verifyAttestation` gives a document over the size limit, without its bytes. */
function oversizedError(size: number): AttestationError {
  return new AttestationError(
    'CBOR_LIMIT_EXCEEDED',
    `the document is ${size} bytes; the limit is ${MAX_DOCUMENT_BYTES}`,
    { path: 'document' },
  );
}

function hexFlag(flag: string, v: string | undefined): Uint8Array | undefined {
  if (v === undefined) return undefined;
  const t = v.startsWith('0x') ? v.slice(2) : v;
  if (!isHex(t)) throw new UsageError(`${flag} must be an even-length hex string`);
  return fromHex(t, flag);
}

/** `--at`: ISO-8601 (with a time zone) or milliseconds since the epoch. */
function parseAt(v: string): number {
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (Number.isSafeInteger(n) && n <= 8.64e15) return n;
  } else if (/^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d))?$/.test(v)) {
    const t = Date.parse(v);
    if (Number.isFinite(t)) return t;
  }
  throw new UsageError(
    '--at must be an ISO-8601 time (e.g. 2024-01-24T18:14:25Z) or milliseconds since the epoch',
  );
}

function parsePcr(v: string): [number, Uint8Array] {
  const m = /^(\d{1,2})=(?:0x)?([0-9a-fA-F]*)$/.exec(v);
  const i = m ? Number(m[1]) : -1;
  if (!m || i > 31 || m[2]!.length === 0 || !isHex(m[2]!))
    throw new UsageError(`--pcr must be <index 0..31>=<hex value>, got '${v}'`);
  return [i, fromHex(m[2]!, '--pcr')];
}

/** A --root file larger than this is not a certificate. */
const MAX_ROOT_PEM_BYTES = 64 * 1024;

async function loadRoot(path: string, io: CliIo): Promise<TrustAnchor> {
  let pem: string;
  try {
    pem = (await readBoundedFile(resolve(io.cwd, path), MAX_ROOT_PEM_BYTES)).toString('utf8');
  } catch (e) {
    throw new CommandError(
      'IO_ERROR',
      `cannot read --root ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  try {
    const anchor = trustAnchorFromPem(basename(path), pem);
    if (toHex(anchor.der) === toHex(SIMULATION_ROOT.der)) return SIMULATION_ROOT;
    return anchor;
  } catch (e) {
    if (!isAttestationError(e)) throw e;
    throw new CommandError(e.code, `--root ${path} is not a PEM certificate: ${e.message}`, e.path);
  }
}

async function verifyCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      at: { type: 'string' },
      root: { type: 'string' },
      pcr: { type: 'string', multiple: true },
      nonce: { type: 'string' },
      'user-data': { type: 'string' },
      'public-key': { type: 'string' },
      'max-age': { type: 'string' },
      'allow-debug': { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  const file = onePath(positionals);
  const opts: VerifyAttestationOptions = {
    verifier: nodeCryptoVerifier,
    cache: createChainCache(),
  };
  if (values.at !== undefined) opts.at = parseAt(values.at);
  if (values.pcr !== undefined) {
    opts.expectedPcrs = new Map();
    for (const p of values.pcr) {
      const [i, v] = parsePcr(p);
      if (opts.expectedPcrs.has(i)) throw new UsageError(`--pcr ${i} is given twice`);
      opts.expectedPcrs.set(i, v);
    }
  }
  opts.expectedNonce = hexFlag('--nonce', values.nonce);
  opts.expectedUserData = hexFlag('--user-data', values['user-data']);
  opts.expectedPublicKey = hexFlag('--public-key', values['public-key']);
  if (values['max-age'] !== undefined) {
    if (!/^\d+$/.test(values['max-age']))
      throw new UsageError('--max-age must be a whole number of seconds');
    opts.maxAgeSeconds = Number(values['max-age']);
    // The edge is the one place that reads the clock; verification takes it as a parameter.
    opts.now = Date.now();
  }
  opts.allowDebug = values['allow-debug'] === true;
  if (values.root !== undefined) {
    const anchor = await loadRoot(values.root, io);
    opts.trustAnchors = [anchor];
  }
  const read = await readDocument(file, io);

  const r: VerifyAttestationResult =
    'bytes' in read
      ? await verifyAttestation(read.bytes, opts)
      : toRefusal(oversizedError(read.oversized), isAttestationError);
  if (!r.ok) {
    if (values.json === true) {
      const out: Record<string, unknown> = { ok: false, code: r.code, message: r.message };
      if (r.path !== undefined) out.path = r.path;
      writeLine(io.stdout, JSON.stringify(out));
    } else {
      writeLine(io.stdout, `REFUSED ${r.code}${r.path !== undefined ? ` at ${r.path}` : ''}`);
      writeLine(io.stdout, `  ${r.message}`);
    }
    return EXIT_REFUSED;
  }
  const simulated = r.trustAnchor.name === SIMULATION_ROOT.name;
  if (values.json === true) {
    writeLine(
      io.stdout,
      JSON.stringify({ ok: true, ...documentJson(r.document), trustAnchor: r.trustAnchor.name }),
    );
  } else {
    const tag = simulated ? 'VALID (SIMULATED: signed under the public simulation root)' : 'VALID';
    writeLine(
      io.stdout,
      `${tag}  trust anchor ${r.trustAnchor.name}${r.debug ? '  DEBUG MODE' : ''}`,
    );
    printDocument(r.document, io);
  }
  return EXIT_OK;
}

function documentJson(doc: AttestationDocument): Record<string, unknown> {
  const pcrs: Record<string, string> = {};
  for (const [i, v] of [...doc.pcrs].sort((a, b) => a[0] - b[0])) pcrs[String(i)] = toHex(v);
  return {
    moduleId: doc.moduleId,
    timestamp: doc.timestamp,
    digest: doc.digest,
    pcrs,
    debug: isDebugDocument(doc),
    userData: doc.userData && toHex(doc.userData),
    nonce: doc.nonce && toHex(doc.nonce),
    publicKey: doc.publicKey && toHex(doc.publicKey),
  };
}

function printDocument(doc: AttestationDocument, io: CliIo): void {
  const line = (k: string, v: string): void => writeLine(io.stdout, `  ${k.padEnd(11)} ${v}`);
  const opt = (b: Uint8Array | null): string =>
    b === null ? '(none)' : `${toHex(b)} (${b.length} bytes)`;
  line('module', doc.moduleId);
  line('timestamp', `${new Date(doc.timestamp).toISOString()} (${doc.timestamp})`);
  line('digest', doc.digest);
  line('debug', isDebugDocument(doc) ? 'yes (PCR0 is all zero)' : 'no');
  for (const [i, v] of [...doc.pcrs].sort((a, b) => a[0] - b[0]))
    line(`PCR${i}`, v.every((b) => b === 0) ? '0 (all zero)' : toHex(v));
  line('user_data', opt(doc.userData));
  line('nonce', opt(doc.nonce));
  line('public_key', opt(doc.publicKey));
}

function certificateJson(der: Uint8Array, path: string): Record<string, unknown> {
  try {
    const c = parseCertificate(der, path);
    return {
      subject: nameToString(c.subject),
      issuer: nameToString(c.issuer),
      notBefore: new Date(c.notBefore).toISOString(),
      notAfter: new Date(c.notAfter).toISOString(),
      serialNumber: toHex(c.serialNumber),
    };
  } catch (e) {
    // inspect shows what is there and does not judge: an unreadable certificate is reported as such.
    if (!isAttestationError(e)) throw e;
    return { error: e.message, bytes: der.length };
  }
}

async function inspectCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean' } },
  });
  const file = onePath(positionals);
  const read = await readDocument(file, io);
  let doc: AttestationDocument;
  try {
    if (!('bytes' in read)) throw oversizedError(read.oversized);
    doc = decodeAttestation(read.bytes);
  } catch (e) {
    if (!isAttestationError(e)) throw e;
    throw new CommandError(
      e.code,
      `cannot decode ${file}: ${e.code}${e.path ? ` at ${e.path}` : ''}: ${e.message}`,
      e.path,
    );
  }
  const certificate = certificateJson(doc.certificate, 'payload.certificate');
  const cabundle = doc.cabundle.map((c, i) => certificateJson(c, `payload.cabundle.${i}`));
  if (values.json === true) {
    writeLine(io.stdout, JSON.stringify({ ...documentJson(doc), certificate, cabundle }));
    return EXIT_OK;
  }
  writeLine(
    io.stdout,
    `AWS Nitro attestation document (not verified; use 'tee-compile attestation verify')`,
  );
  printDocument(doc, io);
  const show = (label: string, c: Record<string, unknown>): void => {
    if (typeof c.error === 'string')
      writeLine(io.stdout, `  ${label.padEnd(11)} unreadable: ${c.error}`);
    else
      writeLine(
        io.stdout,
        `  ${label.padEnd(11)} ${String(c.subject)}\n  ${''.padEnd(11)} valid ${String(c.notBefore)} .. ${String(c.notAfter)}`,
      );
  };
  show('leaf', certificate);
  cabundle.forEach((c, i) => show(`cabundle[${i}]`, c));
  const rootIsAws =
    doc.cabundle[0] !== undefined && toHex(doc.cabundle[0]) === toHex(AWS_NITRO_ROOT_G1.der);
  writeLine(
    io.stdout,
    `  ${'root'.padEnd(11)} ${rootIsAws ? 'is the AWS Nitro root G1' : 'is NOT the AWS Nitro root G1'}`,
  );
  return EXIT_OK;
}
