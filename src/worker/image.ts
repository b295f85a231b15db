/**
 * The image descriptor the worker reads at start (`--image`, /opt/tee-compile/image.json in the
 * enclave images): which image it is, for the hello and the provenance; under simulation, the
 * PCRs its software NSM reports.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { LANGUAGES } from '../contracts/index.js';

const pcrHex = z.string().regex(/^[0-9a-f]{96}$/, 'expected 96 lower-case hex digits');
const imageSchema = z.object({
  name: z.string().min(1).max(128),
  version: z.string().min(1).max(64),
  language: z.enum(LANGUAGES),
  toolchain: z.record(z.string(), z.string()),
  simulated: z.object({ pcr0: pcrHex, pcr1: pcrHex, pcr2: pcrHex }).optional(),
});

export type ImageDescriptor = z.infer<typeof imageSchema>;

/** Largest image.json read. */
export const MAX_IMAGE_JSON_BYTES = 64 * 1024;

/** Reads and validates image.json; throws an Error naming the file and the field. */
export async function readImageDescriptor(file: string): Promise<ImageDescriptor> {
  const text = await readFile(file, 'utf8');
  if (text.length > MAX_IMAGE_JSON_BYTES)
    throw new Error(`${file} is larger than ${MAX_IMAGE_JSON_BYTES} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not JSON: ${(e as Error).message}`);
  }
  const r = imageSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`${file}: ${i ? `${i.path.join('.')}: ${i.message}` : 'invalid'}`);
  }
  return r.data;
}
