/**
 * The build command's jail (enclave/jail/tee-jail.c): the worker runs the command through it as
 * another user, in its own pid, network, mount, IPC and UTS namespaces, with no_new_privs and a
 * seccomp filter that refuses vsock sockets. Inside an enclave this is what keeps a build from
 * asking the NSM for a document of its own, reaching the parent over vsock, or outliving its
 * command to change the outputs after they were hashed. The NSM device is made 0600 root, so the
 * command's user cannot open it.
 *
 * The Nitro images always jail (`--nsm device` refuses to start without it); the local backend
 * runs its worker in a user namespace where no second user exists, and does not.
 */
import { spawn } from 'node:child_process';
import { chmod, chown, lchown, lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** The user the build command runs as in the images (no account of that id exists there). */
export const DEFAULT_BUILD_UID = 10001;
export const DEFAULT_BUILD_GID = 10001;

export interface JailOptions {
  /** Path of tee-jail. */
  helper: string;
  uid: number;
  gid: number;
}

/** The argv that runs `bash -c <cmd>` in the jail. */
export function jailedCommand(jail: JailOptions, cmd: string): [string, string[]] {
  return [
    jail.helper,
    ['--uid', String(jail.uid), '--gid', String(jail.gid), '--', 'bash', '-c', cmd],
  ];
}

/** `uid:gid` (each 1..4294967294) from the command line; throws a TypeError naming the flag. */
export function parseBuildUser(text: string): { uid: number; gid: number } {
  const m = /^(\d{1,10}):(\d{1,10})$/.exec(text);
  const ok = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 4294967294;
  if (!m || !ok(Number(m[1])) || !ok(Number(m[2])))
    throw new TypeError(
      `--build-user must be <uid>:<gid>, each from 1 to 4294967294 (root is refused), got ${text}`,
    );
  return { uid: Number(m[1]), gid: Number(m[2]) };
}

/** What the jail is, for the provenance's isolation notes. */
export function jailNotes(jail: JailOptions): string[] {
  return [
    `build command jailed (tee-jail): uid ${jail.uid}, gid ${jail.gid}, no supplementary groups, no_new_privs`,
    'build command namespaces: pid, network (loopback only), mount, ipc, uts',
    'build command seccomp: AF_VSOCK sockets refused (EACCES), io_uring refused, other ABIs refused',
  ];
}

/**
 * Checks that the jail can be made here, by running `true` in it: a worker that cannot jail its
 * build does not start. Resolves, or rejects with the jail's own reason.
 */
export async function probeJail(jail: JailOptions): Promise<void> {
  const [file, args] = jailedCommand(jail, 'true');
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: '/' });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (err.length < 4096) err += d;
    });
    child.once('error', (e) => resolve({ code: null, stderr: e.message }));
    child.once('close', (c) => resolve({ code: c, stderr: err }));
  });
  if (code !== 0)
    throw new Error(
      `the build jail cannot be made (${jail.helper} exited ${code ?? 'without starting'}): ${stderr.trim() || 'no message'}`,
    );
}

/**
 * Makes the NSM device usable by root alone (owner root, mode 0600) and checks that it is: the
 * build command runs as another user. A missing device is left to the NSM helper to report.
 */
export async function lockNsmDevice(path: string): Promise<void> {
  const before = await stat(path).catch(() => undefined);
  if (before === undefined) return;
  await chown(path, 0, 0);
  await chmod(path, 0o600);
  const after = await stat(path);
  if (after.uid !== 0 || (after.mode & 0o077) !== 0)
    throw new Error(
      `${path} is still open to other users (mode ${(after.mode & 0o777).toString(8)})`,
    );
}

/**
 * Gives `dirs` (recursively, links themselves and not their targets) to the build's user, so that
 * the jailed command can write where the workspace expects it to.
 */
export async function giveToBuildUser(dirs: string[], uid: number, gid: number): Promise<void> {
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p);
    await lchown(p, uid, gid);
    if (st.isDirectory()) for (const name of await readdir(p)) await walk(join(p, name));
  };
  for (const d of dirs) {
    // A folder that does not exist (no dependency set, so no verified one) is passed over.
    const present = await lstat(d).then(
      (st) => st.isDirectory(),
      () => false,
    );
    if (present) await walk(d);
  }
}
