/**
 * The metadata section: JSON written by nitro-cli, never measured.
 *
 * Shape: aws-nitro-enclaves-image-format `src/defs/mod.rs` `EifIdentityInfo` / `EifBuildInfo`,
 * read by `EifReader::from_eif` with serde_json (so unknown keys are ignored and a missing
 * `DockerInfo`/`CustomMetadata` reads as null). describe-eif prints it through
 * `MetadataDescribeInfo` (aws-nitro-enclaves-cli `src/common/json_output.rs`), flattening
 * `CustomMetadata` into the same object.
 */
import { EifError } from './errors.js';

/** Largest metadata section we parse; nitro-cli writes well under 4 KiB. */
export const MAX_METADATA_SIZE = 1024 * 1024;

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** `EifBuildInfo`. */
export interface EifBuildInfo {
  BuildTime: string;
  BuildTool: string;
  BuildToolVersion: string;
  OperatingSystem: string;
  KernelVersion: string;
}

/** `EifIdentityInfo`: what the metadata section holds. */
export interface EifIdentityInfo {
  ImageName: string;
  ImageVersion: string;
  BuildMetadata: EifBuildInfo;
  DockerInfo: Json;
  /** An object of custom keys, or null. */
  CustomMetadata: { [k: string]: Json } | null;
}

const BUILD_KEYS = [
  'BuildTime',
  'BuildTool',
  'BuildToolVersion',
  'OperatingSystem',
  'KernelVersion',
] as const;

function bad(path: string, msg: string, cause?: unknown): EifError {
  return new EifError('BAD_METADATA', `${path}: ${msg}`, { path, cause });
}

function isObject(v: unknown): v is { [k: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses and checks the metadata section bytes. */
export function parseMetadata(bytes: Uint8Array): EifIdentityInfo {
  if (bytes.length > MAX_METADATA_SIZE)
    throw new EifError(
      'SECTION_TOO_LARGE',
      `metadata section is ${bytes.length} bytes, more than ${MAX_METADATA_SIZE}`,
      { path: 'metadata' },
    );
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw bad('metadata', `not UTF-8 JSON (${(e as Error).message})`, e);
  }
  if (!isObject(v)) throw bad('metadata', 'must be a JSON object');
  const str = (obj: { [k: string]: Json }, k: string, path: string): string => {
    const s = obj[k];
    if (typeof s !== 'string') throw bad(path, 'must be a string');
    return s;
  };
  const b = v['BuildMetadata'];
  if (!isObject(b)) throw bad('metadata.BuildMetadata', 'must be an object');
  const build = {} as EifBuildInfo;
  for (const k of BUILD_KEYS) build[k] = str(b, k, `metadata.BuildMetadata.${k}`);
  const custom = v['CustomMetadata'] ?? null;
  // describe-eif flattens CustomMetadata into its output; serde cannot flatten anything but a map.
  if (custom !== null && !isObject(custom))
    throw bad('metadata.CustomMetadata', 'must be an object or null');
  return {
    ImageName: str(v, 'ImageName', 'metadata.ImageName'),
    ImageVersion: str(v, 'ImageVersion', 'metadata.ImageVersion'),
    BuildMetadata: build,
    DockerInfo: v['DockerInfo'] ?? null,
    CustomMetadata: custom,
  };
}

/** The metadata section bytes nitro-cli would write for `info` (`serde_json::to_vec`, field order). */
export function encodeMetadata(info: EifIdentityInfo): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      ImageName: info.ImageName,
      ImageVersion: info.ImageVersion,
      BuildMetadata: {
        BuildTime: info.BuildMetadata.BuildTime,
        BuildTool: info.BuildMetadata.BuildTool,
        BuildToolVersion: info.BuildMetadata.BuildToolVersion,
        OperatingSystem: info.BuildMetadata.OperatingSystem,
        KernelVersion: info.BuildMetadata.KernelVersion,
      },
      DockerInfo: info.DockerInfo,
      CustomMetadata: info.CustomMetadata,
    }),
  );
}

/** `v` with object keys sorted at every level, as serde_json's default (BTreeMap) `Value` prints. */
export function sortKeys(v: Json): Json {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (!isObject(v)) return v;
  const out: { [k: string]: Json } = {};
  for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]!);
  return out;
}

/** describe-eif's `Metadata` object (`MetadataDescribeInfo`), custom keys flattened after the rest. */
export function describeMetadata(info: EifIdentityInfo): { [k: string]: Json } {
  const out: { [k: string]: Json } = {
    BuildTime: info.BuildMetadata.BuildTime,
    BuildTool: info.BuildMetadata.BuildTool,
    BuildToolVersion: info.BuildMetadata.BuildToolVersion,
    OperatingSystem: info.BuildMetadata.OperatingSystem,
    KernelVersion: info.BuildMetadata.KernelVersion,
    DockerInfo: sortKeys(info.DockerInfo),
  };
  const custom = info.CustomMetadata === null ? {} : (sortKeys(info.CustomMetadata) as object);
  // A custom key named like a fixed one would print twice in describe-eif; we keep the fixed one.
  for (const [k, x] of Object.entries(custom)) if (!(k in out)) out[k] = x as Json;
  return out;
}
