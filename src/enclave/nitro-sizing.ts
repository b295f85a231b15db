/**
 * How big an enclave is, and which CID it gets.
 *
 * nitro-cli and the nitro_enclaves driver refuse (nitro-brief §4.5-§4.6):
 *   - memory below 4 × the EIF file size, computed as 4 × ⌈size in MiB⌉
 *     (aws-nitro-enclaves-cli `src/enclave_proc/resource_manager.rs`
 *     `ENCLAVE_MEMORY_EIF_SIZE_RATIO`, E26);
 *   - memory below 64 MiB; memory is handed over in 2 MiB huge pages (`ne_misc_dev.c`
 *     `NE_MIN_ENCLAVE_MEM_SIZE`, region sizes multiple of 2 MiB);
 *   - vCPUs that are not whole cores: every hardware thread of a core or none (`ne_misc_dev.c`;
 *     User Guide, run-enclave), so an even count on hosts with two threads per core;
 *   - CIDs 0-3 and u32::MAX (`commands_parser.rs parse_enclave_cid`), and a CID in use.
 */
import { readFile } from 'node:fs/promises';

/** `ENCLAVE_MEMORY_EIF_SIZE_RATIO`. */
export const MEMORY_EIF_RATIO = 4;
/** `NE_MIN_ENCLAVE_MEM_SIZE` (64 MiB). */
export const MIN_ENCLAVE_MEMORY_MIB = 64;
/** Memory is given in units of the smallest huge page (2 MiB). */
export const MEMORY_GRANULE_MIB = 2;
/** A parent instance runs at most this many enclaves (User Guide, "Considerations"). */
export const MAX_ENCLAVES_PER_PARENT = 4;

const MiB = 1024 * 1024;

/** The least memory nitro-cli accepts for an EIF of `eifBytes` (4 × its size in whole MiB). */
export function minimumMemoryForEif(eifBytes: number): number {
  return Math.ceil(eifBytes / MiB) * MEMORY_EIF_RATIO;
}

/**
 * Memory per byte of the source archive: the worker unpacks the tree into the enclave's
 * RAM-backed /tmp (about the archive's size), and the build writes beside it; as much again is
 * kept for that.
 */
export const SOURCE_MEMORY_FACTOR = 2;
/**
 * Memory per byte of the dependency set: the files are unpacked from it (1), the worker checks
 * and prepares them from a copy of each archive (1), and the unpacked crates, npm packages and Go
 * modules take about 4 times their compressed size.
 */
export const DEPS_MEMORY_FACTOR = 6;

/** The sizes of what the client sends, in bytes. */
export interface InputSizes {
  /** The source archive (tar). */
  sourceBytes: number;
  /** The dependency set (tar; 0 without one). */
  depsBytes: number;
}

/** How the memory of an enclave is made up, in MiB. */
export interface EnclaveMemory {
  /** What is given to nitro-cli: the sum of the parts, at least 64 MiB, in 2 MiB pages. */
  totalMiB: number;
  /** The build's own request (`resources.memoryMiB`). */
  buildMiB: number;
  /** The image: 4 × the EIF in whole MiB, the least nitro-cli accepts for it (E26). */
  imageMiB: number;
  /** The inputs held in the enclave's memory (see the factors above). */
  inputsMiB: number;
}

/**
 * The memory to start an enclave with. Everything of the enclave lives in its RAM: the image's
 * root file system unpacked from the EIF, and the whole workspace (source, dependencies, outputs)
 * in the RAM-backed /tmp. So the build's request is what is left for the build once the image
 * and the inputs are in place:
 *
 *   build + 4 × ⌈EIF MiB⌉ + ⌈(2 × source + 6 × dependency set) / 1 MiB⌉
 *
 * at least 64 MiB, rounded up to whole 2 MiB pages. The image term is nitro-cli's own minimum
 * (E26), so the result is always accepted for the EIF.
 */
export function enclaveMemory(
  requestedMiB: number,
  eifBytes: number,
  inputs: InputSizes = { sourceBytes: 0, depsBytes: 0 },
): EnclaveMemory {
  const imageMiB = minimumMemoryForEif(eifBytes);
  const inputBytes =
    SOURCE_MEMORY_FACTOR * Math.max(0, inputs.sourceBytes) +
    DEPS_MEMORY_FACTOR * Math.max(0, inputs.depsBytes);
  const inputsMiB = Math.ceil(inputBytes / MiB);
  const need = Math.max(requestedMiB + imageMiB + inputsMiB, MIN_ENCLAVE_MEMORY_MIB);
  return {
    totalMiB: Math.ceil(need / MEMORY_GRANULE_MIB) * MEMORY_GRANULE_MIB,
    buildMiB: requestedMiB,
    imageMiB,
    inputsMiB,
  };
}

/** {@link enclaveMemory}'s total. */
export function enclaveMemoryMiB(
  requestedMiB: number,
  eifBytes: number,
  inputs?: InputSizes,
): number {
  return enclaveMemory(requestedMiB, eifBytes, inputs).totalMiB;
}

/** The vCPUs to start an enclave with: what the build asks for, rounded up to whole cores. */
export function enclaveCpuCount(requested: number, threadsPerCore: number): number {
  const t = Math.max(1, threadsPerCore);
  return Math.max(t, Math.ceil(requested / t) * t);
}

/**
 * Hardware threads per core of this host (the enclave's CPUs are taken from it): the length of
 * CPU 0's sibling list in sysfs; 1 when it cannot be read.
 */
export async function detectThreadsPerCore(
  file = '/sys/devices/system/cpu/cpu0/topology/thread_siblings_list',
): Promise<number> {
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).trim();
  } catch {
    return 1;
  }
  let n = 0;
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return 1;
    n += (m[2] === undefined ? Number(m[1]) : Number(m[2])) - Number(m[1]) + 1;
  }
  return n >= 1 ? n : 1;
}

/**
 * A CID for a new enclave: random in `range`, not in `taken`. Random rather than fixed or
 * sequential, so that several agents (or builds) on one host rarely race for the same one.
 * Undefined when the range has no free CID.
 */
export function pickCid(
  range: { min: number; max: number },
  taken: ReadonlySet<number>,
  random: () => number = Math.random,
): number | undefined {
  const size = range.max - range.min + 1;
  for (let i = 0; i < 64; i++) {
    const cid = range.min + Math.floor(random() * size);
    if (cid <= range.max && !taken.has(cid)) return cid;
  }
  // A crowded range: walk it from a random start.
  const start = Math.floor(random() * size);
  for (let i = 0; i < size; i++) {
    const cid = range.min + ((start + i) % size);
    if (!taken.has(cid)) return cid;
  }
  return undefined;
}
