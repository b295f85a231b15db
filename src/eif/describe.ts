/**
 * Presenting a {@link EifDescription}: the exact JSON of `nitro-cli describe-eif` and a readable
 * summary.
 */
import type { EifDescription } from './reader.js';
import type { Json } from './metadata.js';
import { describeMetadata } from './metadata.js';
import type { SigningCertificateInfo } from './certificate.js';

/** `Debug` of sha2's `Sha384`, which nitro-cli prints as the hash algorithm. */
export const HASH_ALGORITHM = 'Sha384 { ... }';

/** The `Measurements` map of build-enclave / describe-eif (a BTreeMap: keys sorted). */
export interface MeasurementsJson {
  HashAlgorithm: string;
  PCR0: string;
  PCR1: string;
  PCR2: string;
  PCR8?: string;
}

/** describe-eif's output (`EifDescribeInfo`, aws-nitro-enclaves-cli `src/common/json_output.rs`). */
export interface DescribeEifJson {
  EifVersion: number;
  Measurements: MeasurementsJson;
  IsSigned: boolean;
  SigningCertificate?: SigningCertificateInfo;
  CheckCRC: boolean;
  SignatureCheck?: boolean;
  ImageName?: string;
  ImageVersion?: string;
  Metadata?: { [k: string]: Json };
}

/** The measurements as build-enclave prints them. */
export function measurementsJson(d: EifDescription): MeasurementsJson {
  const m: MeasurementsJson = {
    HashAlgorithm: HASH_ALGORITHM,
    PCR0: d.measurements.pcr0,
    PCR1: d.measurements.pcr1,
    PCR2: d.measurements.pcr2,
  };
  if (d.measurements.pcr8 !== undefined) m.PCR8 = d.measurements.pcr8;
  return m;
}

/**
 * describe-eif's JSON object, with its key order: struct field order of `EifDescribeInfo`, optional
 * fields omitted when absent (`skip_serializing_if = "Option::is_none"`).
 */
export function describeEifJson(d: EifDescription): DescribeEifJson {
  const sig = d.signature;
  return {
    EifVersion: d.version,
    Measurements: measurementsJson(d),
    IsSigned: sig !== undefined,
    ...(sig === undefined ? {} : { SigningCertificate: sig.certificate }),
    CheckCRC: d.crc.ok,
    ...(sig === undefined ? {} : { SignatureCheck: sig.check }),
    ImageName: d.metadata.ImageName,
    ImageVersion: d.metadata.ImageVersion,
    Metadata: describeMetadata(d.metadata),
  };
}

/** The JSON text describe-eif prints (`serde_json::to_string_pretty`: two-space indent). */
export function formatDescribeEifJson(d: EifDescription): string {
  return JSON.stringify(describeEifJson(d), null, 2);
}

function mib(n: number): string {
  return n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MiB` : `${n} bytes`;
}

/** A readable multi-line summary. */
export function formatDescribeEifText(d: EifDescription): string {
  const lines = [
    `EIF version ${d.version}, ${d.arch}, ${mib(d.fileSize)}`,
    `Image:      ${d.metadata.ImageName} ${d.metadata.ImageVersion}`,
    `Built:      ${d.metadata.BuildMetadata.BuildTime} by ${d.metadata.BuildMetadata.BuildTool} ${d.metadata.BuildMetadata.BuildToolVersion}`,
    `Kernel:     ${d.metadata.BuildMetadata.KernelVersion}; cmdline: ${d.cmdline}`,
    `Sections:   ${d.sections.map((s) => `${s.type} (${mib(s.size)})`).join(', ')}`,
    `CRC:        ${d.crc.ok ? 'ok' : `MISMATCH (header 0x${d.crc.stored.toString(16)}, file 0x${d.crc.computed.toString(16)})`}`,
    '',
    `PCR0  ${d.measurements.pcr0}`,
    `PCR1  ${d.measurements.pcr1}`,
    `PCR2  ${d.measurements.pcr2}`,
  ];
  if (d.signature !== undefined) {
    lines.push(`PCR8  ${d.measurements.pcr8 ?? ''}`, '');
    const issuer = Object.entries(d.signature.certificate.IssuerName)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    lines.push(
      `Signed by:  ${issuer}`,
      `Valid:      ${d.signature.certificate.NotBefore} .. ${d.signature.certificate.NotAfter}`,
      `Signature:  ${d.signature.check ? 'ok' : `FAILED (${d.signature.reason ?? ''})`}`,
    );
  } else {
    lines.push('', 'Signed:     no');
  }
  return lines.join('\n');
}
