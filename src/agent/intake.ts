/**
 * Reading `POST /build` bodies into a job's inputs directory: what both forms give (a
 * `Submission`), and the JSON form (Kettle's fields, the archive as base64 `source_data`); the
 * multipart form is in ./multipart.ts. Sizes are bounded per form and per part; files are
 * written under names the agent chooses.
 */
import type { IncomingMessage } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { AgentError } from './errors.js';
import { newNonce } from './ids.js';
import type { JobRecord } from './job.js';
import type { RepoUrlPolicy } from './fields.js';
import {
  parseOidcToken,
  badField,
  decodeBase64,
  parseConfig,
  parseNonce,
  parseRepoRef,
  parseRepoUrl,
  parseRepository,
  parseSourceName,
  parseWorkdir,
  sniffArchive,
} from './fields.js';
import { firstIssue } from './zod-issues.js';

/** Sizes the intake enforces. */
export interface IntakeLimits {
  maxJsonBodyBytes: number;
  maxSourceBytes: number;
  maxDependenciesBytes: number;
}

/** A request read and checked; its files are in the job's inputs directory. */
export interface Submission {
  nonce: string | null;
  source:
    | {
        kind: 'archive';
        file: string;
        format: 'zip' | 'tar.gz';
        name: string | null;
        bytes: number;
      }
    | { kind: 'git'; repoUrl: string; ref: string | null };
  config: Record<string, unknown> | null;
  dependencies: { file: string; bytes: number } | null;
  /** Directory of build.json inside the source (`.` for the root), checked for its form. */
  workdir: string;
  /** Repository to record for an uploaded source, or null. */
  repository: string | null;
  /** The workflow's OIDC token (audience `tee-compile:<nonce>`), or null. */
  oidcToken: string | null;
}

/** The record of a job just submitted, queued (the agent draws the nonce when none was sent). */
export function queuedRecord(id: string, sub: Submission, now: number): JobRecord {
  return {
    version: 1,
    id,
    state: 'queued',
    createdAt: now,
    startedAt: null,
    finishedAt: null,
    nonce: sub.nonce ?? newNonce(),
    source:
      sub.source.kind === 'git'
        ? sub.source
        : {
            kind: 'archive',
            format: sub.source.format,
            name: sub.source.name,
            bytes: sub.source.bytes,
          },
    config: sub.config,
    dependencies: sub.dependencies ? { bytes: sub.dependencies.bytes } : null,
    workdir: sub.workdir,
    repository: sub.repository,
    oidcToken: sub.oidcToken,
    error: null,
    result: null,
  };
}

/** Why `repository` is refused beside `repo_url`. */
export const REPOSITORY_WITH_REPO_URL =
  'only with an uploaded source: a repo_url job records the URL it was cloned from';

/** Names of the files in a job's inputs directory. */
export const INPUT_FILES = {
  source: (format: 'zip' | 'tar.gz'): string => (format === 'zip' ? 'source.zip' : 'source.tar.gz'),
  dependencies: 'dependencies.tar',
} as const;

/** The media type of a body, lower case, without parameters. */
export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

export function tooLarge(field: string, limit: number): AgentError {
  return new AgentError('AGENT_PAYLOAD_TOO_LARGE', `${field}: larger than ${limit} bytes`, {
    path: field,
  });
}

/** Refuses at once a body whose declared length is over `limit` (before reading any of it). */
export function checkDeclaredLength(req: IncomingMessage, limit: number): void {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge('body', limit);
}

/**
 * Reads a whole body up to `limit`. Past it, reading stops without destroying the request, so
 * that the 413 answer can still be sent.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let over = false;
    const onData = (chunk: Buffer): void => {
      n += chunk.length;
      if (n > limit) {
        over = true;
        req.off('data', onData);
        req.pause();
        reject(tooLarge('body', limit));
      } else chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

const nullable = <T extends z.ZodType>(t: T) => t.nullable().optional();

/** Kettle's JSON body, plus `config`, `dependencies_data`, `workdir` and `repository`. */
const JsonBody = z.strictObject({
  nonce: nullable(z.string()),
  repo_url: nullable(z.string()),
  repo_ref: nullable(z.string()),
  source_data: nullable(z.string()),
  source_name: nullable(z.string()),
  config: nullable(z.unknown()),
  dependencies_data: nullable(z.string()),
  workdir: nullable(z.string()),
  repository: nullable(z.string()),
  oidc_token: nullable(z.string()),
});

async function writeArchive(
  inputs: string,
  bytes: Buffer,
  field: string,
): Promise<{ file: string; format: 'zip' | 'tar.gz' }> {
  const format = sniffArchive(bytes);
  if (format === null) throw badField(field, 'expected a .zip or .tar.gz archive');
  const file = join(inputs, INPUT_FILES.source(format));
  await writeFile(file, bytes, { mode: 0o640, flag: 'wx' });
  return { file, format };
}

/** Reads the JSON form into `inputs`. */
export async function readJsonSubmission(
  req: IncomingMessage,
  inputs: string,
  limits: IntakeLimits,
  repos: RepoUrlPolicy,
): Promise<Submission> {
  checkDeclaredLength(req, limits.maxJsonBodyBytes);
  const body = await readBody(req, limits.maxJsonBodyBytes);
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw badField('body', 'not valid JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw badField('body', 'expected a JSON object');
  const parsed = JsonBody.safeParse(json);
  if (!parsed.success) {
    const issue = firstIssue(parsed.error);
    throw badField(issue.field, issue.message.slice(issue.field.length + 2));
  }
  const b = parsed.data;
  const nonce = b.nonce == null ? null : parseNonce(b.nonce);
  const config = b.config == null ? null : parseConfig(b.config);
  const workdir = b.workdir == null ? '.' : parseWorkdir(b.workdir);
  const repository = b.repository == null ? null : parseRepository(b.repository, repos);
  if (repository !== null && b.repo_url != null)
    throw badField('repository', REPOSITORY_WITH_REPO_URL);
  const source = await jsonSource(b, inputs, limits, repos);
  let dependencies: Submission['dependencies'] = null;
  if (b.dependencies_data != null) {
    const bytes = decodeBase64(
      b.dependencies_data,
      'dependencies_data',
      limits.maxDependenciesBytes,
    );
    const file = join(inputs, INPUT_FILES.dependencies);
    await writeFile(file, bytes, { mode: 0o640, flag: 'wx' });
    dependencies = { file, bytes: bytes.length };
  }
  const oidcToken = b.oidc_token == null ? null : parseOidcToken(b.oidc_token);
  return { nonce, source, config, dependencies, workdir, repository, oidcToken };
}

async function jsonSource(
  b: z.infer<typeof JsonBody>,
  inputs: string,
  limits: IntakeLimits,
  repos: RepoUrlPolicy,
): Promise<Submission['source']> {
  if (b.repo_url != null && b.source_data != null)
    throw badField('repo_url', 'give either repo_url or source_data, not both');
  if (b.repo_url != null) {
    if (b.source_name != null) throw badField('source_name', 'only with source_data');
    return {
      kind: 'git',
      repoUrl: parseRepoUrl(b.repo_url, repos),
      ref: b.repo_ref == null ? null : parseRepoRef(b.repo_ref),
    };
  }
  if (b.repo_ref != null) throw badField('repo_ref', 'only with repo_url');
  if (b.source_data == null)
    throw badField('source_data', 'either repo_url or source_data is required');
  const name = b.source_name == null ? null : parseSourceName(b.source_name);
  const bytes = decodeBase64(b.source_data, 'source_data', limits.maxSourceBytes);
  const { file, format } = await writeArchive(inputs, bytes, 'source_data');
  return { kind: 'archive', file, format, name, bytes: bytes.length };
}
