/**
 * The AWS Query protocol as EC2 and IAM speak it, for the stand-ins: the form-encoded request
 * (`Action=…&Version=…&Tag.1.Key=…`) parsed into nested values (1-based numbered members become
 * arrays), Signature Version 4 checked over the request as received, and XML written with the
 * service's namespace and its error envelope (EC2: `<Response><Errors><Error>…`; IAM:
 * `<ErrorResponse><Error><Type>…`).
 */
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** A parsed Query value: text, or nested members. */
export type QueryValue = string | QueryNode | QueryValue[];
export interface QueryNode {
  [key: string]: QueryValue;
}

/** Parses `a.1.b=x&a.2.b=y&c=z` into `{a: [{b: x}, {b: y}], c: z}`. */
export function parseQuery(body: string): QueryNode {
  const root: QueryNode = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const parts = key.split('.');
    let node: QueryNode | QueryValue[] = root;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      const last = i === parts.length - 1;
      const nextIsIndex = !last && /^\d+$/.test(parts[i + 1]!);
      const slot: string | number = Array.isArray(node) ? Number(p) - 1 : p;
      const container = node as Record<string | number, QueryValue>;
      if (last) {
        container[slot] = value;
        break;
      }
      container[slot] ??= nextIsIndex ? [] : {};
      node = container[slot] as QueryNode | QueryValue[];
    }
  }
  return root;
}

/** Text at a dotted path (`EnclaveOptions.Enabled`), or undefined. */
export function text(node: QueryValue | undefined, path: string): string | undefined {
  let v: QueryValue | undefined = node;
  for (const p of path.split('.')) {
    if (v === undefined || typeof v === 'string') return undefined;
    v = Array.isArray(v) ? v[Number(p) - 1] : v[p];
  }
  return typeof v === 'string' ? v : undefined;
}

/** Members of a numbered list at `path` (`InstanceId` -> [..]), holes dropped. */
export function members(node: QueryNode, path: string): QueryValue[] {
  let v: QueryValue | undefined = node;
  for (const p of path.split('.')) {
    if (v === undefined || typeof v === 'string' || Array.isArray(v)) return [];
    v = v[p];
  }
  return Array.isArray(v) ? v.filter((x) => x !== undefined) : [];
}

/** The text members of a numbered list (`InstanceId.1`, `InstanceId.2`, …). */
export function texts(node: QueryNode, path: string): string[] {
  return members(node, path).filter((x): x is string => typeof x === 'string');
}

/** Escapes text for XML. */
export function xmlText(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** An XML element from a plain value: objects nest, arrays become `<item>`s (EC2's lists). */
export function xml(name: string, v: unknown, itemName = 'item'): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v))
    return v.length === 0
      ? `<${name}/>`
      : `<${name}>${v.map((x) => xml(itemName, x, itemName)).join('')}</${name}>`;
  if (typeof v === 'object')
    return `<${name}>${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => xml(k, x, itemName))
      .join('')}</${name}>`;
  return `<${name}>${xmlText(typeof v === 'string' ? v : JSON.stringify(v))}</${name}>`;
}

/** A request that failed as AWS answers it. */
export class AwsFault extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const EC2_NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';
export const IAM_NS = 'https://iam.amazonaws.com/doc/2010-05-08/';

/** EC2's error body. */
export function ec2ErrorXml(f: AwsFault): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${xmlText(f.code)}</Code><Message>${xmlText(f.message)}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`;
}

/** IAM's error body. */
export function iamErrorXml(f: AwsFault): string {
  return `<ErrorResponse xmlns="${IAM_NS}">\n  <Error>\n    <Type>Sender</Type>\n    <Code>${xmlText(f.code)}</Code>\n    <Message>${xmlText(f.message)}</Message>\n  </Error>\n  <RequestId>${randomUUID()}</RequestId>\n</ErrorResponse>\n`;
}

/** The credential scope of a SigV4 request. */
export interface SignedBy {
  accessKeyId: string;
  region: string;
  service: string;
}

const hmac = (key: Buffer | string, data: string): Buffer =>
  createHmac('sha256', key).update(data).digest();

function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * Checks the request's Signature Version 4 (`Authorization: AWS4-HMAC-SHA256 Credential=…,
 * SignedHeaders=…, Signature=…`) with the secret of its access key. Throws the fault AWS answers.
 */
export function checkSigV4(
  req: IncomingMessage,
  path: string,
  query: string,
  body: Buffer,
  secretOf: (akid: string) => string | undefined,
): SignedBy {
  const h = req.headers.authorization ?? '';
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
      h,
    );
  if (m === null)
    throw new AwsFault(
      401,
      'AuthFailure',
      'AWS was not able to validate the provided access credentials',
    );
  const [, akid, date, region, service, signedHeaders, signature] = m as unknown as string[];
  const secret = secretOf(akid!);
  if (secret === undefined)
    throw new AwsFault(
      401,
      'AuthFailure',
      'AWS was not able to validate the provided access credentials',
    );
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const headers = signedHeaders!.split(';');
  const canonicalHeaders = headers
    .map(
      (n) =>
        `${n}:${String(req.headers[n] ?? '')
          .trim()
          .replace(/\s+/g, ' ')}\n`,
    )
    .join('');
  const canonicalQuery = [...new URLSearchParams(query)]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort(([a, x], [b, y]) => (a! < b! ? -1 : a! > b! ? 1 : x! < y! ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonical = [
    req.method,
    path,
    canonicalQuery,
    canonicalHeaders,
    signedHeaders,
    createHash('sha256').update(body).digest('hex'),
  ].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    createHash('sha256').update(canonical).digest('hex'),
  ].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date!), region!), service!), 'aws4_request');
  const want = Buffer.from(hmac(key, toSign).toString('hex'));
  if (!timingSafeEqual(want, Buffer.from(signature!)))
    throw new AwsFault(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    );
  return { accessKeyId: akid!, region: region!, service: service! };
}
