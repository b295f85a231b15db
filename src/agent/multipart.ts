/**
 * The multipart form of `POST /build` (a `source` file part, as `curl -F source=@project.zip`
 * sends it), parsed with busboy: each part bounded by its own limit, each text field checked as it
 * arrives, and reading stopped at the first refusal.
 */
import type { IncomingMessage } from 'node:http';
import { createWriteStream } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { MAX_TOKEN_CHARS } from '../oidc/index.js';
import type { RepoUrlPolicy } from './fields.js';
import {
  parseOidcToken,
  MAX_CONFIG_BYTES,
  badField,
  parseConfigText,
  parseNonce,
  parseRepoRef,
  parseRepoUrl,
  parseRepository,
  parseSourceName,
  parseWorkdir,
  sniffArchive,
} from './fields.js';
import type { IntakeLimits, Submission } from './intake.js';
import { INPUT_FILES, REPOSITORY_WITH_REPO_URL, checkDeclaredLength, tooLarge } from './intake.js';

/** Largest text field of a multipart body (other than `config`). */
export const MAX_MULTIPART_FIELD_BYTES = 8 * 1024;
/** A text field's bound: `config` and `oidc_token` have their own (as in a JSON request). */
function fieldLimit(name: string): number {
  if (name === 'config') return MAX_CONFIG_BYTES;
  if (name === 'oidc_token') return MAX_TOKEN_CHARS;
  return MAX_MULTIPART_FIELD_BYTES;
}
/** Parts of a multipart body: source, dependencies, config and a few fields. */
export const MAX_MULTIPART_PARTS = 16;
/** Slack over the parts' limits for multipart boundaries and headers. */
const MULTIPART_OVERHEAD_BYTES = 1024 * 1024;

/** Largest multipart body for these limits. */
export function multipartBodyLimit(l: IntakeLimits): number {
  return l.maxSourceBytes + l.maxDependenciesBytes + MAX_CONFIG_BYTES + MULTIPART_OVERHEAD_BYTES;
}

/** Counts bytes through a stream and fails past `limit`. */
function limiter(field: string, limit: number, count: (n: number) => void): Transform {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      count(n);
      if (n > limit) cb(tooLarge(field, limit));
      else cb(null, chunk);
    },
  });
}

const MULTIPART_FIELDS = new Set([
  'nonce',
  'repo_url',
  'repo_ref',
  'ref',
  'source_name',
  'config',
  'workdir',
  'repository',
  'oidc_token',
]);
const MULTIPART_FILES = new Set(['source', 'dependencies', 'config']);

/**
 * Reads the multipart form into `inputs`: file parts `source` (.zip or .tar.gz), `dependencies`
 * (a dependency set tar) and `config` (build.json); fields `nonce`, `repo_url`, `ref` (or
 * `repo_ref`), `source_name`, `config` (JSON text), `workdir`, `repository`.
 */
export async function readMultipartSubmission(
  req: IncomingMessage,
  inputs: string,
  limits: IntakeLimits,
  repos: RepoUrlPolicy,
): Promise<Submission> {
  checkDeclaredLength(req, multipartBodyLimit(limits));
  let bb: busboy.Busboy;
  try {
    bb = busboy({
      headers: req.headers,
      limits: {
        fieldNameSize: 100,
        fieldSize: MAX_CONFIG_BYTES,
        fields: MAX_MULTIPART_PARTS,
        files: 3,
        parts: MAX_MULTIPART_PARTS,
        fileSize:
          Math.max(limits.maxSourceBytes, limits.maxDependenciesBytes, MAX_CONFIG_BYTES) + 1,
        headerPairs: 32,
      },
    });
  } catch (err) {
    throw badField('body', `not a multipart/form-data body: ${(err as Error).message}`);
  }
  const fields = new Map<string, string>();
  const seen = new Set<string>();
  const files: MultipartFiles = {};
  const writes: Promise<void>[] = [];
  // Every stream of the parts, sources and sinks: all are destroyed on failure (a part stream that
  // busboy already ended but nobody read does not fail its pipeline when destroyed; its sink does).
  const streams: (Readable | Writable)[] = [];
  let failure: unknown = null;
  let stop: (err: Error) => void = () => undefined;
  // The first failure stops reading at once: the rest of the body is not parsed nor stored.
  const fail = (err: unknown): void => {
    if (failure) return;
    failure = err;
    stop(err as Error);
  };

  const claim = (name: string): boolean => {
    const twin = name === 'ref' ? 'repo_ref' : name === 'repo_ref' ? 'ref' : name;
    if (seen.has(name) || seen.has(twin)) {
      fail(badField(name, 'given more than once'));
      return false;
    }
    seen.add(name);
    return true;
  };

  bb.on('field', (name, value, info) => {
    if (failure) return;
    if (!MULTIPART_FIELDS.has(name)) return fail(badField(name, 'unknown field'));
    if (!claim(name)) return;
    const limit = fieldLimit(name);
    if (info.valueTruncated || Buffer.byteLength(value) > limit) return fail(tooLarge(name, limit));
    // Checked as it arrives: a bad field is refused before a large upload after it is read.
    try {
      checkField(name, value, repos);
    } catch (err) {
      return fail(err);
    }
    fields.set(name, value);
  });

  bb.on('file', (name, stream, info) => {
    streams.push(stream);
    if (failure) return void stream.resume();
    if (!MULTIPART_FILES.has(name)) {
      stream.resume();
      return fail(badField(name, 'unknown file part'));
    }
    if (!claim(name)) return void stream.resume();
    if (name === 'config') {
      writes.push(
        collectText(stream, MAX_CONFIG_BYTES).then(
          (text) => void fields.set('config', text),
          () => fail(tooLarge('config', MAX_CONFIG_BYTES)),
        ),
      );
      return;
    }
    const isSource = name === 'source';
    const limit = isSource ? limits.maxSourceBytes : limits.maxDependenciesBytes;
    const file = join(inputs, isSource ? 'source.upload' : INPUT_FILES.dependencies);
    let bytes = 0;
    const sink = createWriteStream(file, { flags: 'wx', mode: 0o640 });
    streams.push(sink);
    writes.push(
      pipeline(
        stream,
        limiter(name, limit, (n) => (bytes = n)),
        sink,
      ).then(
        () => {
          if (isSource) files.source = { file, bytes, filename: info.filename };
          else files.deps = { file, bytes };
        },
        (err) => fail(err),
      ),
    );
  });
  bb.on('partsLimit', () => fail(badField('body', `more than ${MAX_MULTIPART_PARTS} parts`)));
  bb.on('filesLimit', () => fail(badField('body', 'too many file parts')));
  bb.on('fieldsLimit', () => fail(badField('body', 'too many fields')));

  try {
    await new Promise<void>((resolve, reject) => {
      stop = (err) => {
        req.unpipe(bb);
        for (const s of streams) s.destroy();
        reject(err);
      };
      bb.on('close', resolve);
      bb.on('error', (err) =>
        fail(badField('body', `malformed multipart body: ${(err as Error).message}`)),
      );
      req.on('error', (err) => fail(err));
      req.pipe(bb);
    });
    await Promise.all(writes);
  } catch (err) {
    await Promise.allSettled(writes);
    throw (failure ?? err) as Error;
  }
  if (failure) throw failure as Error;
  return finishMultipart(fields, files, inputs, repos);
}

/** Checks one multipart text field on its own (the combination is checked at the end). */
function checkField(name: string, value: string, repos: RepoUrlPolicy): void {
  if (name === 'nonce' && value !== '') parseNonce(value);
  else if (name === 'repo_url') parseRepoUrl(value, repos);
  else if (name === 'ref' || name === 'repo_ref') parseRepoRef(value, name);
  else if (name === 'source_name') parseSourceName(value);
  else if (name === 'config') parseConfigText(value);
  else if (name === 'workdir') parseWorkdir(value);
  else if (name === 'repository') parseRepository(value, repos);
  else if (name === 'oidc_token') parseOidcToken(value);
}

interface MultipartFiles {
  source?: { file: string; bytes: number; filename: string | undefined };
  deps?: { file: string; bytes: number };
}

/** Reads a small part as text; rejects past `limit`. */
async function collectText(stream: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) throw tooLarge('config', limit);
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function finishMultipart(
  fields: Map<string, string>,
  files: MultipartFiles,
  inputs: string,
  repos: RepoUrlPolicy,
): Promise<Submission> {
  const nonceText = fields.get('nonce');
  const nonce = nonceText === undefined || nonceText === '' ? null : parseNonce(nonceText);
  const configText = fields.get('config');
  const config = configText === undefined ? null : parseConfigText(configText);
  const repoUrl = fields.get('repo_url');
  const refField = fields.has('ref') ? 'ref' : 'repo_ref';
  const ref = fields.get(refField);
  const dependencies = files.deps ?? null;
  const workdirText = fields.get('workdir');
  const workdir = workdirText === undefined ? '.' : parseWorkdir(workdirText);
  const repositoryText = fields.get('repository');
  const repository = repositoryText === undefined ? null : parseRepository(repositoryText, repos);
  const tokenText = fields.get('oidc_token');
  const oidcToken = tokenText === undefined ? null : parseOidcToken(tokenText);
  if (repository !== null && repoUrl !== undefined)
    throw badField('repository', REPOSITORY_WITH_REPO_URL);
  if (repoUrl !== undefined && files.source)
    throw badField('repo_url', 'give either repo_url or a source file, not both');
  if (repoUrl !== undefined) {
    if (fields.has('source_name')) throw badField('source_name', 'only with a source file');
    return {
      nonce,
      source: {
        kind: 'git',
        repoUrl: parseRepoUrl(repoUrl, repos),
        ref: ref === undefined ? null : parseRepoRef(ref, refField),
      },
      config,
      dependencies,
      workdir,
      repository,
      oidcToken,
    };
  }
  if (ref !== undefined) throw badField(refField, 'only with repo_url');
  if (!files.source) throw badField('source', 'either a source file or repo_url is required');
  const head = Buffer.alloc(4);
  const fh = await open(files.source.file, 'r');
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  const format = sniffArchive(head);
  if (format === null) throw badField('source', 'expected a .zip or .tar.gz archive');
  const sourceName = fields.get('source_name');
  let name: string | null = sourceName === undefined ? null : parseSourceName(sourceName);
  if (name === null && files.source.filename !== undefined) {
    // The part's file name is informational; one that is not a plain name is dropped, not refused.
    const base = files.source.filename.split(/[\\/]/).pop() ?? '';
    try {
      name = parseSourceName(base);
    } catch {
      name = null;
    }
  }
  const file = join(inputs, INPUT_FILES.source(format));
  await rename(files.source.file, file);
  return {
    nonce,
    source: { kind: 'archive', file, format, name, bytes: files.source.bytes },
    config,
    dependencies,
    workdir,
    repository,
    oidcToken,
  };
}
