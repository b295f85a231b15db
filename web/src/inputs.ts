/**
 * What the page verifies: files dropped or picked, and bundles named by `?bundle=` links. A file
 * is read as a stream of chunks (never whole) and reports how far it got, so that big bundles show
 * progress and stay within the reader's bounds.
 */

/** A bundle or attestation document, named as the report names it. */
export interface PageInput {
  name: string;
  /** Size in bytes when known (for the progress bar). */
  size: number | null;
  /** A fresh stream of the bytes (each call starts again from the beginning). */
  open: () => ReadableStream<Uint8Array>;
  /** The first byte, when it can be read without using up `open` (files). */
  first?: () => Promise<Uint8Array>;
}

/** Called with the bytes read so far. */
export type OnProgress = (read: number) => void;

/** The chunks of `input`, reporting progress. The reader is released when the consumer stops. */
export async function* chunks(
  input: PageInput,
  onProgress: OnProgress,
): AsyncGenerator<Uint8Array> {
  const reader = input.open().getReader();
  let read = 0;
  let done = false;
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) {
        done = true;
        return;
      }
      read += r.value.length;
      onProgress(read);
      yield r.value;
    }
  } finally {
    // The verifier stopped early (a refusal): nothing more of the file is read.
    if (!done) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/** Up to `max` bytes of `input` from its start (a document is small; a bundle is not read whole). */
export async function readUpTo(input: PageInput, max: number): Promise<Uint8Array> {
  const out = new Uint8Array(max);
  let off = 0;
  for await (const c of chunks(input, () => undefined)) {
    const take = Math.min(c.length, max - off);
    out.set(c.subarray(0, take), off);
    off += take;
    if (off === max) break;
  }
  return out.subarray(0, off);
}

/**
 * True when `input` is an attestation document rather than a bundle: named `.cbor`, or (for a
 * file) starting as COSE_Sign1 does, with a CBOR array of four or tag 18 (RFC 9052 §4.2), where a
 * bundle starts with gzip's 1f 8b or a tar header's file name.
 */
export async function isAttestation(input: PageInput): Promise<boolean> {
  if (/\.cbor$/i.test(input.name)) return true;
  if (input.first === undefined) return false;
  const b = await input.first();
  return b.length > 0 && (b[0] === 0x84 || b[0] === 0xd2);
}

/** A dropped or picked file. */
export function fileInput(file: File): PageInput {
  return {
    name: file.name,
    size: file.size,
    open: () => file.stream(),
    first: async () => new Uint8Array(await file.slice(0, 1).arrayBuffer()),
  };
}

/** Why a URL could not be read, in words a person can act on. */
export class FetchFailure extends Error {
  constructor(
    readonly url: string,
    message: string,
  ) {
    super(message);
  }
}

/** The last path segment of a URL, as the bundle's name. */
export function nameOfUrl(url: string): string {
  try {
    const u = new URL(url, location.href);
    const last = u.pathname
      .split('/')
      .filter((s) => s !== '')
      .pop();
    return last === undefined ? u.host : decodeURIComponent(last);
  } catch {
    return url;
  }
}

/**
 * Fetches `url` (same origin, or a host that allows cross-origin reads). The body is read as a
 * stream when the verifier asks for it. Throws FetchFailure explaining what to do instead.
 */
export async function fetchInput(url: string): Promise<PageInput> {
  let res: Response;
  try {
    res = await fetch(url, { credentials: 'omit', redirect: 'follow', cache: 'no-store' });
  } catch {
    // A browser does not say why a request failed; a host that does not allow cross-origin reads
    // (no Access-Control-Allow-Origin) is by far the most common cause.
    throw new FetchFailure(
      url,
      'The host of this file does not let other web pages read it (it does not allow cross-origin reads), or it cannot be reached (this page reads only https links and its own host). Download the file with the link below, then drop it on this page.',
    );
  }
  if (!res.ok || res.body === null) {
    throw new FetchFailure(
      url,
      `The host answered ${res.status} ${res.statusText}: the file is not there. Check the link, or download the file yourself and drop it on this page.`,
    );
  }
  const body = res.body;
  const length = Number(res.headers.get('content-length'));
  let used = false;
  return {
    name: nameOfUrl(url),
    size: Number.isFinite(length) && length > 0 ? length : null,
    open: () => {
      if (used) throw new Error('a fetched file is read once');
      used = true;
      return body;
    },
  };
}
