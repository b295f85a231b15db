/**
 * The local backend's sandbox: Linux namespaces made with util-linux `unshare`.
 *
 * - network: a fresh network namespace with only loopback, brought up (no route out);
 * - mount: a private mount namespace in which the fixed workspace path is a fresh tmpfs, and the
 *   directory holding every build's host directory is covered with an empty tmpfs (concurrent
 *   builds neither collide nor see each other);
 * - a workspace in memory, as an enclave's is (its file system is the image's ramdisk): the
 *   source, the dependency set, the offline environment made from it and everything the build
 *   writes. Its size is the enclave's memory less the worker's share (local-enclave.ts), and its
 *   pages are charged to the build's memory cgroup, so a build that outgrows its memory here
 *   would on Nitro too. Thousands of small files cost a tenth of what they cost on a disk (1 595
 *   files of 18 MB written: 33 ms against 250-470 ms), and it goes with the namespace, with
 *   nothing left to remove;
 * - pid: a fresh pid namespace with its own /proc, so the build sees no host process and every
 *   process in it dies with the worker;
 * - user: a user namespace mapping root to the caller, tried first even as root, because a
 *   process that is root in the host's user namespace could re-enter the host's network
 *   namespace (setns needs CAP_SYS_ADMIN over it); root inside a user namespace cannot.
 */
import { spawn } from 'node:child_process';

/** `userns`: all four namespaces; `rootns`: without the user namespace (root only); `none`: none. */
export type SandboxLevel = 'userns' | 'rootns' | 'none';

/** What the OS allows here. */
export interface SandboxProbe {
  level: SandboxLevel;
  notes: string[];
  /** When `level` is `none`: the OS's refusal, quoted. */
  refusal?: string;
}

const NS_FLAGS = [
  '--net',
  '--mount',
  '--propagation',
  'private',
  '--pid',
  '--fork',
  '--kill-child',
  '--mount-proc',
];
const USER_FLAGS = ['--user', '--map-root-user'];

/**
 * Runs in the new namespaces before the worker: loopback up, the workspace in memory on the fixed
 * path, other builds hidden, then the worker. Arguments: the workspace's size (tmpfs `size=`),
 * fixed path, directory to hide. The shell stays as the namespace's init and exits with the worker's
 * status (128+n when a signal killed it): `unshare --fork` itself reports a killed child only as
 * status 1.
 */
export const SANDBOX_SETUP_SCRIPT = [
  'set -e',
  'ip link set lo up',
  'mount -t tmpfs -o "size=$1,mode=0755" tee-compile-workspace "$2"',
  'mount -t tmpfs -o size=64k,mode=0700 tee-compile-hidden "$3"',
  'shift 3',
  '"$@"',
].join('\n');

function run(argv: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => resolve({ code: -1, stderr: e.message }));
    child.on('close', (code) => resolve({ code, stderr: stderr.trim() }));
  });
}

const cached = new Map<string, Promise<SandboxProbe>>();

/** Finds the strongest sandbox the OS grants (once per process and `unshare` binary). */
export function probeSandbox(unshare = 'unshare'): Promise<SandboxProbe> {
  let probed = cached.get(unshare);
  if (probed === undefined) {
    probed = probe(unshare);
    cached.set(unshare, probed);
  }
  return probed;
}

async function probe(unshare: string): Promise<SandboxProbe> {
  const check = ['/bin/sh', '-c', 'ip link set lo up'];
  const user = await run([unshare, ...USER_FLAGS, ...NS_FLAGS, '--', ...check]);
  if (user.code === 0) return { level: 'userns', notes: [] };
  const notes = [`user namespace refused: ${user.stderr || `exit ${user.code}`}`];
  if (process.geteuid?.() === 0) {
    const root = await run([unshare, ...NS_FLAGS, '--', ...check]);
    if (root.code === 0) {
      notes.push('namespaces made as root without a user namespace: the build runs as host root');
      return { level: 'rootns', notes };
    }
    notes.push(`namespaces refused: ${root.stderr || `exit ${root.code}`}`);
    return { level: 'none', notes, refusal: root.stderr || user.stderr };
  }
  return { level: 'none', notes, refusal: user.stderr };
}

export interface SandboxCommandOptions {
  /** Largest size of the workspace (bytes): the enclave's memory less the worker's share. */
  workspaceBytes: number;
  /** The fixed path it appears at inside. */
  workspaceTarget: string;
  /** Parent of every build's directory; covered inside. */
  hideDir: string;
  /** The worker's command line. */
  command: string[];
  /** The `unshare` binary (default from PATH). */
  unshare?: string;
}

/** The command line that starts `command` in the sandbox of `level`. */
export function sandboxCommand(level: SandboxLevel, o: SandboxCommandOptions): string[] {
  if (level === 'none') return o.command;
  return [
    o.unshare ?? 'unshare',
    ...(level === 'userns' ? USER_FLAGS : []),
    ...NS_FLAGS,
    '--',
    '/bin/sh',
    '-c',
    SANDBOX_SETUP_SCRIPT,
    'tee-compile-sandbox',
    String(o.workspaceBytes),
    o.workspaceTarget,
    o.hideDir,
    ...o.command,
  ];
}
