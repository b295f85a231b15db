/**
 * build.json: the schema (zod, also published as schemas/build.schema.json), strict parsing with
 * messages that name the field and the expected form, and normalisation to `BuildConfig`.
 *
 * A TEE Compile build.json (`language`, `input.cmd`, `input.vendor`, `input.env` as `["K=V"]`,
 * `output.files`) is accepted unchanged; `input.vendor` is recorded but never run.
 */
import * as z from 'zod';
import { LANGUAGES } from '../../contracts/index.js';
import { provenanceError } from '../errors.js';
import type { BuildConfig } from '../types.js';

export const MAX_CPUS = 128;
export const MIN_MEMORY_MIB = 256;
export const MAX_MEMORY_MIB = 1_048_576;
export const MAX_TIMEOUT_SECONDS = 86_400;
export const MAX_COMMAND_LENGTH = 65_536;
export const MAX_ENV_ENTRIES = 256;
export const MAX_OUTPUT_GLOBS = 1024;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ENV_ENTRY = /^[A-Za-z_][A-Za-z0-9_]*=/;
/** Relative, no `..` segment, no backslash, not absolute (POSIX or drive letter). */
const GLOB = /^(?![/\\])(?![A-Za-z]:)(?!.*\\)(?!(?:.*\/)?\.\.(?:\/|$)).+$/;
const IMAGE_NAME = /^[a-z0-9][a-z0-9._-]*$/;

const inputShape = {
  cmd: z
    .string()
    .min(1)
    .max(MAX_COMMAND_LENGTH)
    .describe('The build command, run offline with `bash -c` in the directory of build.json.'),
  vendor: z
    .string()
    .optional()
    .describe(
      'TEE Compile compatibility: recorded but never run (tee-compile fetches dependencies from the lockfile and verifies them in the enclave).',
    ),
  env: z
    .union([
      z.array(z.string().regex(ENV_ENTRY)).max(MAX_ENV_ENTRIES),
      z.record(z.string().regex(ENV_NAME), z.string()),
    ])
    .optional()
    .describe(
      'Extra environment for the build command: a list of "NAME=value" (TEE Compile form) or an object.',
    ),
};
const outputShape = {
  files: z
    .array(z.string().regex(GLOB))
    .min(1)
    .max(MAX_OUTPUT_GLOBS)
    .describe('Paths or globs relative to the directory of build.json; every match is an output.'),
};
const imageShape = {
  name: z
    .string()
    .regex(IMAGE_NAME)
    .optional()
    .describe('Enclave image name (default: the published image for the language).'),
  version: z.string().min(1).max(128).optional().describe('Enclave image version.'),
};
const resourcesShape = {
  cpus: z.int().min(1).max(MAX_CPUS).optional().describe('vCPUs of the enclave.'),
  memoryMiB: z
    .int()
    .min(MIN_MEMORY_MIB)
    .max(MAX_MEMORY_MIB)
    .optional()
    .describe('Memory of the enclave in MiB.'),
};
const topShape = {
  $schema: z.string().optional().describe('URI of this schema, for editors; ignored.'),
  language: z.enum(LANGUAGES).describe('Toolchain image to build with.'),
  input: z.strictObject(inputShape),
  output: z.strictObject(outputShape),
  image: z.strictObject(imageShape).optional(),
  resources: z.strictObject(resourcesShape).optional(),
  timeout: z
    .int()
    .min(1)
    .max(MAX_TIMEOUT_SECONDS)
    .optional()
    .describe('Build time limit in seconds.'),
  allowUnpinnedDependencies: z
    .boolean()
    .optional()
    .describe(
      'Allow dependencies without a lockfile checksum (git, path and link dependencies); they are recorded as unpinned.',
    ),
};

/** The schema of build.json as written by users. */
export const buildJsonSchema = z.strictObject(topShape).meta({
  title: 'tee-compile build.json',
  description:
    'How tee-compile builds a repository inside an enclave. A TEE Compile build.json is accepted unchanged.',
});

/** The normalised form (`BuildConfig`), as recorded in provenance.json. */
export const buildConfigSchema = z.strictObject({
  language: topShape.language,
  input: z.strictObject({
    cmd: inputShape.cmd,
    vendor: z.string().min(1).optional(),
    env: z.record(z.string().regex(ENV_NAME), z.string()),
  }),
  output: topShape.output,
  image: topShape.image,
  resources: topShape.resources,
  timeout: topShape.timeout,
  allowUnpinnedDependencies: topShape.allowUnpinnedDependencies,
});

/** JSON Schema (2020-12) of build.json, as written to schemas/build.schema.json. */
export function buildJsonSchemaDocument(): Record<string, unknown> {
  return {
    $id: 'https://tee-compile.dev/schemas/build.schema.json',
    ...z.toJSONSchema(buildJsonSchema, { io: 'input', target: 'draft-2020-12' }),
  };
}

/** Known keys per object path, for "did you mean" suggestions. */
const KNOWN_KEYS: Record<string, string[]> = {
  '': Object.keys(topShape),
  input: Object.keys(inputShape),
  output: Object.keys(outputShape),
  image: Object.keys(imageShape),
  resources: Object.keys(resourcesShape),
};

/** The expected form per field (array indices as `*`). */
const EXPECTED: Record<string, string> = {
  '': 'a JSON object',
  $schema: 'a string',
  language: 'one of "rust", "node", "go"',
  input: 'an object with "cmd"',
  'input.cmd': `a non-empty string (at most ${MAX_COMMAND_LENGTH} characters)`,
  'input.vendor': 'a string',
  'input.env': `a list of "NAME=value" strings (at most ${MAX_ENV_ENTRIES}) or an object of string values`,
  'input.env.*': '"NAME=value" where NAME matches [A-Za-z_][A-Za-z0-9_]*',
  'input.env.#': 'a string value',
  output: 'an object with "files"',
  'output.files': `a non-empty list (at most ${MAX_OUTPUT_GLOBS}) of relative paths or globs`,
  'output.files.*': 'a relative path or glob (no leading "/", no "..", no "\\")',
  image: 'an object with optional "name" and "version"',
  'image.name': 'an image name of lower-case letters, digits, ".", "_" and "-"',
  'image.version': 'a non-empty string',
  resources: 'an object with optional "cpus" and "memoryMiB"',
  'resources.cpus': `an integer from 1 to ${MAX_CPUS}`,
  'resources.memoryMiB': `an integer from ${MIN_MEMORY_MIB} to ${MAX_MEMORY_MIB}`,
  timeout: `a whole number of seconds from 1 to ${MAX_TIMEOUT_SECONDS}`,
  allowUnpinnedDependencies: 'true or false',
};

function pattern(path: readonly PropertyKey[]): string {
  const p = path.map((k) => (typeof k === 'number' ? '*' : String(k)));
  if (p[0] === 'input' && p[1] === 'env' && p.length === 3 && p[2] !== '*') p[2] = '#';
  return p.join('.');
}

function dotted(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const k of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** Edit distance, for suggestions. */
function distance(a: string, b: string): number {
  const d: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

function suggest(key: string, known: string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const dist = distance(key.toLowerCase(), k.toLowerCase());
    if (dist < bestD) {
      bestD = dist;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(best.length / 3))
    ? `; did you mean \`${best}\`?`
    : '';
}

interface Problem {
  path: string;
  message: string;
}

function describe(
  issue: z.core.$ZodIssue,
  input: unknown,
  base: readonly PropertyKey[],
  out: Problem[],
): void {
  const path = [...base, ...issue.path];
  if (issue.code === 'unrecognized_keys') {
    const where = dotted(path);
    for (const key of issue.keys) {
      const full = where === '' ? key : `${where}.${key}`;
      if (full === 'output.sgx_signed_so') {
        out.push({
          path: full,
          message:
            'SGX outputs are not supported: tee-compile builds in AWS Nitro Enclaves and attests the outputs listed in output.files; remove output.sgx_signed_so',
        });
      } else {
        out.push({ path: full, message: `unknown field${suggest(key, KNOWN_KEYS[where] ?? [])}` });
      }
    }
    return;
  }
  if (issue.code === 'invalid_union') {
    // Report the branch that matches the value's JSON type (env: list or object).
    const v = valueAt(input, path);
    const branch = issue.errors[Array.isArray(v) ? 0 : 1];
    const specific = branch?.filter((i) => i.code !== 'invalid_type' || i.path.length > 0) ?? [];
    if (typeof v === 'object' && v !== null && specific.length > 0) {
      for (const i of specific) describe(i, input, path, out);
      return;
    }
  }
  if (issue.code === 'invalid_key') {
    out.push({
      path: dotted(path),
      message: `invalid variable name; expected NAME matching [A-Za-z_][A-Za-z0-9_]*`,
    });
    return;
  }
  const expected = EXPECTED[pattern(path)] ?? issue.message;
  const missing = valueAt(input, path) === undefined && issue.code === 'invalid_type';
  out.push({ path: dotted(path), message: `${missing ? 'missing; ' : ''}expected ${expected}` });
}

function fail(file: string, problems: Problem[]): never {
  const lines = problems.map((p) => `${file}: ${p.path === '' ? '' : `${p.path}: `}${p.message}`);
  throw provenanceError('CONFIG_INVALID', lines.join('\n'), problems[0]?.path);
}

/**
 * Validates a parsed build.json and returns its normalised form: `input.env` as an object, empty
 * `input.vendor` dropped, `$schema` dropped. Throws CONFIG_INVALID; the message has one line per
 * problem, each naming the field and the expected form (`build.json: input.cmd: expected a
 * non-empty string`).
 */
export function parseBuildConfig(json: unknown, file = 'build.json'): BuildConfig {
  const r = buildJsonSchema.safeParse(json);
  if (!r.success) {
    const problems: Problem[] = [];
    for (const issue of r.error.issues) describe(issue, json, [], problems);
    fail(file, problems);
  }
  const d = r.data;
  const env: Record<string, string> = {};
  if (Array.isArray(d.input.env)) {
    const problems: Problem[] = [];
    d.input.env.forEach((entry, i) => {
      const eq = entry.indexOf('=');
      const name = entry.slice(0, eq);
      if (Object.prototype.hasOwnProperty.call(env, name)) {
        problems.push({ path: `input.env.${i}`, message: `${name} is set twice` });
      }
      env[name] = entry.slice(eq + 1);
    });
    if (problems.length > 0) fail(file, problems);
  } else if (d.input.env !== undefined) {
    for (const [k, v] of Object.entries(d.input.env)) env[k] = v;
  }
  const config: BuildConfig = {
    language: d.language,
    input: { cmd: d.input.cmd, env },
    output: { files: [...d.output.files] },
  };
  if (d.input.vendor !== undefined && d.input.vendor !== '') config.input.vendor = d.input.vendor;
  if (d.image !== undefined) config.image = { ...d.image };
  if (d.resources !== undefined) config.resources = { ...d.resources };
  if (d.timeout !== undefined) config.timeout = d.timeout;
  if (d.allowUnpinnedDependencies !== undefined)
    config.allowUnpinnedDependencies = d.allowUnpinnedDependencies;
  return config;
}

/** Parses build.json text (JSON syntax errors become CONFIG_INVALID). */
export function parseBuildConfigText(text: string, file = 'build.json'): BuildConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw provenanceError(
      'CONFIG_INVALID',
      `${file}: not valid JSON: ${(err as Error).message}`,
      undefined,
      err,
    );
  }
  return parseBuildConfig(json, file);
}
