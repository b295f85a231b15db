/**
 * What a builder host needs for the images it prepares: which published images (images.json),
 * the least vCPUs and memory an instance type must have, and the enclave pool (nitro-cli's
 * allocator) for a chosen type.
 *
 * The parent instance keeps one core (2 vCPUs) and PARENT_RESERVE_MIB for the OS, the agent and
 * the GitHub runner; every other vCPU and MiB goes to the pool. An enclave needs whole cores, at
 * least one (2 vCPUs on the supported types), and memory for its image (4 × the EIF, nitro-cli's
 * own minimum) plus the smallest build (MIN_MEMORY_MIB) — `enclaveMemory` of src/enclave.
 */
import type { ImageCatalog, ImageEntry } from '../catalog/index.js';
import { enclaveMemory } from '../enclave/index.js';
import { MIN_MEMORY_MIB } from '../provenance/index.js';
import { Ec2Error } from './errors.js';

/** vCPUs the parent instance keeps (one core of two threads). */
export const PARENT_VCPUS = 2;
/** Memory the parent instance keeps: Amazon Linux, node (agent), the runner and the page cache. */
export const PARENT_RESERVE_MIB = 3072;
/** Least vCPUs of an enclave: one whole core. */
export const MIN_ENCLAVE_VCPUS = 2;

/** A published image to fetch onto the host. */
export interface PublishedImage {
  name: string;
  version: string;
  url: string;
  sha256: string;
  size: number;
}

/** What an instance type must offer. */
export interface HostRequirements {
  images: PublishedImage[];
  minVcpus: number;
  minMemoryMiB: number;
}

/** The enclave pool of a type (what /etc/nitro_enclaves/allocator.yaml gets). */
export interface Allocator {
  cpuCount: number;
  memoryMiB: number;
}

function latest(entries: ImageEntry[]): ImageEntry {
  return entries.reduce((a, b) => {
    const pa = a.version.split('.').map(Number);
    const pb = b.version.split('.').map(Number);
    for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i]! > pb[i]! ? a : b;
    return a;
  });
}

/**
 * The images to prepare (the newest version of each name asked for; every name when `names` is
 * empty) and the host they need. Throws `IMAGES_NOT_PUBLISHED` when one has no published .eif.
 */
export function hostRequirements(
  catalog: ImageCatalog,
  names: readonly string[],
): HostRequirements {
  const all = [...new Set(catalog.images.map((i) => i.name))];
  const wanted = names.length > 0 ? names : all;
  const images: PublishedImage[] = [];
  for (const name of wanted) {
    const entries = catalog.images.filter((i) => i.name === name);
    if (entries.length === 0)
      throw new Ec2Error(
        'OPTION_INVALID',
        `option "images": images.json has no image ${JSON.stringify(name)} (it has ${all.join(', ')})`,
        { path: 'images' },
      );
    const e = latest(entries);
    if (e.eif === null)
      throw new Ec2Error(
        'IMAGES_NOT_PUBLISHED',
        `image ${e.name}@${e.version} has no published .eif in images.json yet (eif is null): build and publish it ('tee-compile image build'), or name only published images with the images option`,
        { path: 'images' },
      );
    images.push({
      name: e.name,
      version: e.version,
      url: e.eif.url,
      sha256: e.eif.sha256,
      size: e.eif.size,
    });
  }
  const biggest = Math.max(...images.map((i) => i.size));
  const enclaveMiB = enclaveMemory(MIN_MEMORY_MIB, biggest).totalMiB;
  return {
    images,
    minVcpus: PARENT_VCPUS + MIN_ENCLAVE_VCPUS,
    minMemoryMiB: PARENT_RESERVE_MIB + enclaveMiB,
  };
}

/** The pool for an instance type with `vcpus` and `memoryMiB` (see the module comment). */
export function allocatorFor(vcpus: number, memoryMiB: number): Allocator {
  const cpuCount = Math.max(0, vcpus - PARENT_VCPUS);
  // Whole 2 MiB huge pages.
  const mem = Math.max(0, memoryMiB - PARENT_RESERVE_MIB);
  return { cpuCount: cpuCount - (cpuCount % 2), memoryMiB: mem - (mem % 2) };
}
