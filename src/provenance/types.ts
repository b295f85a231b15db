/**
 * Shapes of the provenance module's public face (see ./index.ts for the functions): what a build
 * consumed (source, dependencies, toolchain, build.json) and the in-toto statement that records it.
 */
import type { Language } from '../contracts/index.js';

/** Git object format of a repository. */
export type ObjectFormat = 'sha1' | 'sha256';

/** Identity of the source being built. */
export interface SourceIdentity {
  /** Commit id (hex), or null when only a tree is known (a source without `.git`). */
  commit: string | null;
  /** Tree id (hex) of the committed tree (or of the files, without `.git`). */
  tree: string;
  objectFormat: ObjectFormat;
  /** The work tree differs from the commit (uncommitted or untracked, non-ignored changes). */
  dirty: boolean;
  /** Repository URL (normalised `https://host/owner/repo`) when known. */
  repository?: string;
}

/** A source read from a git checkout, ready to send to a worker. */
export interface GitSource extends SourceIdentity {
  /** The raw commit object body (what `git cat-file commit <id>` prints), or null without a commit. */
  commitObject: Uint8Array | null;
  /** The directory read, relative to the repository root (`.` at the root), when read from a checkout. */
  workdir?: string;
}

/** Ecosystem of a locked dependency. */
export type Ecosystem = 'npm' | 'cargo' | 'go';

/**
 * How a dependency is pinned: `registry` dependencies carry the lockfile's own checksum; the others
 * have none and are refused by default.
 */
export type DependencyKind = 'registry' | 'git' | 'path' | 'link';

/** One locked dependency as the lockfile states it. */
export interface LockedDependency {
  ecosystem: Ecosystem;
  name: string;
  version: string;
  /** Package URL, e.g. `pkg:npm/%40types/node@20.1.0`, `pkg:cargo/serde@1.0.0`, `pkg:golang/golang.org/x/mod@v0.1.0`. */
  purl: string;
  /**
   * The lockfile's checksum in its own notation: npm `sha512-<base64>` (SRI), Cargo
   * `sha256:<hex>`, Go `h1:<base64>` (plus the go.mod hash in `goModDigest`); null when unpinned,
   * and for a Go module of which go.sum pins only the go.mod file (then `goModDigest` is set).
   * `isPinned()` tells the two apart.
   */
  digest: string | null;
  kind: DependencyKind;
  /** Go only: the `/go.mod h1:` line. */
  goModDigest?: string;
  /** Where the lockfile says it comes from (registry URL, git URL, path), informational. */
  source?: string;
  /** Go only: required directly by go.mod (not `// indirect`). */
  direct?: boolean;
}

/** A toolchain binary used by the build. */
export interface ToolchainComponent {
  /** e.g. `rustc`, `cargo`, `node`, `npm`, `go`. */
  name: string;
  /** What `<tool> --version` printed (first line, trimmed). */
  version: string;
  /** SHA-256 (hex) of the resolved binary (for scripts, of the script file). */
  sha256: string;
  /** Absolute path of the resolved binary inside the build environment. */
  path: string;
}

/** The normalised build.json. */
export interface BuildConfig {
  language: Language;
  input: {
    /** The build command, run with `bash -c` in the directory of build.json (`workdir`). */
    cmd: string;
    /**
     * TEE Compile's host-side vendoring command. Accepted for compatibility and recorded, but never
     * run: dependencies are fetched from the lockfile by tee-compile and verified in the enclave.
     */
    vendor?: string;
    /** Extra environment for the build command (TEE Compile's `["K=V"]` form is normalised to this). */
    env: Record<string, string>;
  };
  output: {
    /** Globs relative to the directory of build.json; every match is an output (a subject). */
    files: string[];
  };
  /** Enclave image to build with; default: the published image for `language`. */
  image?: { name?: string; version?: string };
  /** Resources of the enclave. */
  resources?: { cpus?: number; memoryMiB?: number };
  /** Build time limit in seconds. */
  timeout?: number;
  /** Allow dependencies without a lockfile checksum (git, path outside the tree, link); recorded. */
  allowUnpinnedDependencies?: boolean;
}

/** in-toto resource descriptor (https://github.com/in-toto/attestation/blob/main/spec/v1/resource_descriptor.md). */
export interface ResourceDescriptor {
  name?: string;
  uri?: string;
  digest?: Record<string, string>;
  /** The resource's bytes, base64 (used for the raw commit/tag objects and the OIDC token). */
  content?: string;
  annotations?: Record<string, unknown>;
}

/** The enclave image a build ran in: catalog name and version, language, and PCR0..2 (hex). */
export interface ImageIdentity {
  name: string;
  version: string;
  language: string;
  pcr0: string;
  pcr1: string;
  pcr2: string;
}

/** The statement written as provenance.json (in-toto Statement v1 + SLSA Provenance v1). */
export interface ProvenanceStatement {
  _type: 'https://in-toto.io/Statement/v1';
  subject: { name: string; digest: { sha256: string } }[];
  predicateType: 'https://slsa.dev/provenance/v1';
  predicate: {
    buildDefinition: {
      buildType: string;
      externalParameters: {
        source: {
          repository: string | null;
          gitCommit: string | null;
          gitTree: string;
          objectFormat: ObjectFormat;
        };
        config: BuildConfig;
        /** Directory of build.json relative to the source root (`.` for the root): where `input.cmd` runs. */
        workdir: string;
      };
      internalParameters: {
        image: ImageIdentity;
        /** Hex of the client's nonce, also the attestation's `nonce`. */
        nonce: string;
        network: 'none';
        /** What isolation the backend applied (e.g. network namespace, memory cgroup). */
        isolation: Record<string, unknown>;
        /** Root (hex) of the Merkle tree over the input digests; see `merkle.ts`. */
        inputMerkleRoot: string;
        /** On Nitro: DescribeNSM and the DescribePCR values read in the enclave. */
        nsm?: Record<string, unknown>;
        /** The work tree beyond the source: the `.git` written from the verified tree and commit. */
        workspace?: Record<string, unknown>;
        /** Milliseconds each worker phase took (receiving … collecting-outputs). */
        timings?: Record<string, number>;
      };
      resolvedDependencies: ResourceDescriptor[];
    };
    runDetails: {
      builder: { id: string; version: Record<string, string> };
      metadata: { invocationId: string; startedOn: string; finishedOn: string };
      byproducts?: ResourceDescriptor[];
    };
  };
}
