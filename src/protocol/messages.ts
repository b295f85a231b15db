/**
 * The messages of protocol versions 1 and 2. Version 2 adds the builder key's unsealing: the
 * build request's `signing`, the worker's `unseal` and the client's `unsealed`; a version 1
 * session carries none of them. Control messages are JSON text frames; input and bundle
 * bytes are binary frames. Every message read from the wire is untrusted and validated here,
 * strictly (unknown fields refused), into a `ProtocolError` naming the field.
 */
import { z } from 'zod';
import { LANGUAGES } from '../contracts/index.js';
import { ProtocolError } from './errors.js';

/** Name sent in both hellos, so that a stray peer speaking something else is refused early. */
export const PROTOCOL_NAME = 'tee-compile';
/** The versions this code speaks, newest first. */
export const SUPPORTED_VERSIONS: readonly number[] = [2, 1];
/**
 * First version with the builder key's unsealing (`signing`, `unseal`, `unsealed`). Workers of
 * version 1 (images published before it) still build, unsigned.
 */
export const SIGNING_VERSION = 2;

/** Shortest and longest nonce accepted (bytes). The NSM accepts up to 1024; a fixed range keeps it simple. */
import { MAX_NONCE_BYTES, MIN_NONCE_BYTES } from '../util/nonce.js';

export { MAX_NONCE_BYTES, MIN_NONCE_BYTES };

/** The inputs, in the order their bytes follow a `build` message. */
export const INPUT_NAMES = ['config', 'commit', 'source', 'deps'] as const;
export type InputName = (typeof INPUT_NAMES)[number];

/** What the worker reports while it works, in this order. */
export const PHASES = [
  'receiving',
  'verifying-source',
  'verifying-dependencies',
  'building',
  'collecting-outputs',
  'attesting',
  'sending',
] as const;
export type Phase = (typeof PHASES)[number];

/** Bounds a worker announces in its hello; the client checks its inputs against them before sending. */
export interface ProtocolLimits {
  /** Largest JSON (text) message, either way. */
  maxMessageBytes: number;
  /** Largest binary frame. */
  maxFrameBytes: number;
  /** Largest input of each kind (bytes as sent). */
  maxInputBytes: Record<InputName, number>;
  /** The connection is dropped after this long without any frame (pings count). */
  idleTimeoutMs: number;
  /** The whole exchange, from hello to the last bundle byte. */
  totalTimeoutMs: number;
}

const hex = (min: number, max: number) =>
  z
    .string()
    .regex(/^[0-9a-f]*$/, 'must be lower-case hex')
    .min(min * 2)
    .max(max * 2)
    .refine((s) => s.length % 2 === 0, 'must have an even number of digits');
const objectId = z
  .string()
  .regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, 'must be a 40 or 64 digit hex object id');
const size = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const shortText = z.string().max(256);
/** Standard padded base64 (RFC 4648 §4) of at most `max` bytes. */
const base64 = (max: number) =>
  z
    .string()
    .max(Math.ceil(max / 3) * 4)
    .regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, 'must be base64');
/** Largest attestation document or CiphertextForRecipient carried by the unseal exchange. */
export const MAX_UNSEAL_BYTES = 64 * 1024;

const limitsSchema = z
  .object({
    maxMessageBytes: size,
    maxFrameBytes: size,
    maxInputBytes: z.object({ config: size, commit: size, source: size, deps: size }).strict(),
    idleTimeoutMs: size,
    totalTimeoutMs: size,
  })
  .strict();

const imageSchema = z
  .object({ name: shortText, version: shortText, language: z.enum(LANGUAGES) })
  .strict();

const clientHello = z
  .object({
    type: z.literal('hello'),
    protocol: z.literal(PROTOCOL_NAME),
    versions: z.array(z.number().int().positive()).min(1).max(16),
    client: shortText,
  })
  .strict();

/** Bounds of the `origin` of a build request (the whole message stays under its own bound). */
export const MAX_ORIGIN_TAG_BASE64 = 350_000;
export const MAX_ORIGIN_PGP_KEYS = 8;
export const MAX_ORIGIN_PGP_KEY_CHARS = 64 * 1024;
export const MAX_ORIGIN_TOKEN_CHARS = 16 * 1024;

/**
 * Where the source comes from, beyond the commit: the annotated tag being built (its raw object,
 * base64), OpenPGP public keys the client knows for checking signatures (recorded as given) and
 * the workflow's OIDC token. All are checked by the worker and recorded in provenance.json.
 */
const originSchema = z
  .object({
    tag: z
      .object({
        name: z.string().min(1).max(255),
        object: z.string().min(1).max(MAX_ORIGIN_TAG_BASE64),
      })
      .strict()
      .optional(),
    pgpKeys: z
      .array(z.string().min(1).max(MAX_ORIGIN_PGP_KEY_CHARS))
      .max(MAX_ORIGIN_PGP_KEYS)
      .optional(),
    oidcToken: z.string().min(1).max(MAX_ORIGIN_TOKEN_CHARS).optional(),
  })
  .strict();

const buildRequest = z
  .object({
    type: z.literal('build'),
    nonce: hex(MIN_NONCE_BYTES, MAX_NONCE_BYTES),
    workdir: z.string().min(1).max(4096),
    source: z
      .object({
        repository: z.string().max(2048).nullable(),
        commit: objectId.nullable(),
        tree: objectId,
        objectFormat: z.enum(['sha1', 'sha256']),
      })
      .strict(),
    inputs: z.object({ config: size, commit: size, source: size, deps: size }).strict(),
    /** The host holds a sealed builder key with this fingerprint and will unseal it on request. */
    signing: z
      .object({ keyFingerprint: z.string().regex(/^sha256:[0-9a-f]{64}$/) })
      .strict()
      .optional(),
    origin: originSchema.optional(),
  })
  .strict();

/** The host's answer to `unseal`: KMS's CiphertextForRecipient for the worker's key. */
const unsealed = z
  .object({ type: z.literal('unsealed'), ciphertextForRecipient: base64(MAX_UNSEAL_BYTES) })
  .strict();

const cancel = z.object({ type: z.literal('cancel'), reason: z.string().max(1024) }).strict();

const workerHello = z
  .object({
    type: z.literal('hello'),
    protocol: z.literal(PROTOCOL_NAME),
    version: z.number().int().positive(),
    worker: shortText,
    image: imageSchema,
    limits: limitsSchema,
  })
  .strict();

const phase = z
  .object({
    type: z.literal('phase'),
    phase: z.enum(PHASES),
    detail: z.string().max(1024).optional(),
  })
  .strict();

const log = z.object({ type: z.literal('log'), lines: z.array(z.string()).max(100_000) }).strict();

/** After the build command exited: an attestation document carrying the worker's RSA key. */
const unseal = z
  .object({ type: z.literal('unseal'), attestation: base64(MAX_UNSEAL_BYTES) })
  .strict();

const subject = z.object({ name: z.string().max(4096), sha256: hex(32, 32) }).strict();

const result = z
  .object({
    type: z.literal('result'),
    bundle: z.object({ size }).strict(),
    subjects: z.array(subject).max(100_000),
  })
  .strict();

const errorMessage = z
  .object({
    type: z.literal('error'),
    code: z.string().max(64),
    message: z.string().max(8192),
    path: z.string().max(1024).optional(),
    exitCode: z.number().int().nullable().optional(),
    signal: z.string().max(32).nullable().optional(),
    logTail: z.array(z.string()).max(1000).optional(),
  })
  .strict();

/** The client's first message. */
export type ClientHello = z.infer<typeof clientHello>;
/** What to build; the inputs' bytes follow in `INPUT_NAMES` order. */
export type BuildRequest = z.infer<typeof buildRequest>;
/** The client gives up; the worker stops and exits. */
export type CancelMessage = z.infer<typeof cancel>;
/** CiphertextForRecipient (base64) for the worker's `unseal`. */
export type UnsealedMessage = z.infer<typeof unsealed>;
/** A client may also end with an `error` message (e.g. a limit it found), same shape as the worker's. */
export type ClientMessage =
  ClientHello | BuildRequest | CancelMessage | UnsealedMessage | ErrorMessage;

/** The worker's answer to the client's hello: chosen version, image and limits. */
export type WorkerHello = z.infer<typeof workerHello>;
export type PhaseMessage = z.infer<typeof phase>;
/** Build log lines, batched. */
export type LogMessage = z.infer<typeof log>;
/** The worker asks the host to unseal the builder key for its attested RSA key. */
export type UnsealMessage = z.infer<typeof unseal>;
/** The build succeeded; the bundle's bytes follow. */
export type ResultMessage = z.infer<typeof result>;
/** The exchange ends with a refusal (`code` from the protocol's or the worker's list). */
export type ErrorMessage = z.infer<typeof errorMessage>;
export type WorkerMessage =
  WorkerHello | PhaseMessage | LogMessage | UnsealMessage | ResultMessage | ErrorMessage;

const clientMessage = z.discriminatedUnion('type', [
  clientHello,
  buildRequest,
  cancel,
  unsealed,
  errorMessage,
]);
const workerMessage = z.discriminatedUnion('type', [
  workerHello,
  phase,
  log,
  unseal,
  result,
  errorMessage,
]);

function fieldOf(issue: z.core.$ZodIssue | undefined): { path: string; message: string } {
  if (issue === undefined) return { path: '', message: 'invalid' };
  const parts = issue.path.map((p) => String(p));
  if (issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined) {
    parts.push(issue.keys[0]);
    return { path: parts.join('.'), message: 'unknown field' };
  }
  return { path: parts.join('.'), message: issue.message };
}

function parse<T>(schema: z.ZodType<T>, text: string, who: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ProtocolError('PROTOCOL_MALFORMED', `${who} sent a message that is not JSON`, {
      cause: e,
    });
  }
  const r = schema.safeParse(json);
  if (r.success) return r.data;
  const { path, message } = fieldOf(r.error.issues[0]);
  const type = (json as { type?: unknown } | null)?.type;
  const what = typeof type === 'string' ? `'${type.slice(0, 32)}' message` : 'message';
  throw new ProtocolError(
    'PROTOCOL_MALFORMED',
    `${who} sent a malformed ${what}: ${path || '(message)'}: ${message}`,
    {
      path,
    },
  );
}

/** Parses a JSON message from the client (untrusted). */
export function parseClientMessage(text: string): ClientMessage {
  return parse<ClientMessage>(clientMessage, text, 'the client');
}

/** Parses a JSON message from the worker (untrusted). */
export function parseWorkerMessage(text: string): WorkerMessage {
  return parse<WorkerMessage>(workerMessage, text, 'the worker');
}

/**
 * The highest version both sides speak, or null. The client lists what it speaks; the worker
 * picks (so that an old client keeps working against a newer worker and vice versa).
 */
export function chooseVersion(
  offered: readonly number[],
  supported = SUPPORTED_VERSIONS,
): number | null {
  let best: number | null = null;
  for (const v of offered) if (supported.includes(v) && (best === null || v > best)) best = v;
  return best;
}
