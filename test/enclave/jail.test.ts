/**
 * tee-jail (enclave/jail/tee-jail.c) attacked from inside: a probe program tries what a hostile
 * build command would (open the NSM device, make a vsock socket, reach the host's loopback, regain
 * root, leave a process behind), once outside the jail as the control that shows each attempt can
 * succeed here, and once inside, where each must fail with the jail's own error.
 *
 * Making namespaces and changing user needs root, as in the enclave; CI runs as root.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { constants } from 'node:os';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseBuildUser, probeJail } from '../../src/worker/jail.js';
import {
  CAN_JAIL,
  buildJail,
  buildProbe,
  parseProbe,
  processesWith,
} from '../support/processes/jail.js';

const run = promisify(execFile);
const JAIL_DIR = fileURLToPath(new URL('../../enclave/jail/', import.meta.url));
const E = constants.errno;

let dir: string;
let jail: string;
let probe: string;
let secret: string;
let server: Server;
let port: number;
let connections = 0;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function exec(file: string, args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const jailed = (args: string[]): Promise<Ran> =>
  exec(jail, ['--uid', '10001', '--gid', '10001', '--', ...args]);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tc-jail-'));
  await chmod(dir, 0o755);
  jail = await buildJail();
  probe = await buildProbe();
  secret = join(dir, 'nsm');
  await writeFile(secret, 'device stand-in');
  await chmod(secret, 0o600);
  server = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

describe('tee-jail', () => {
  it('when built with its Makefile, it compiles without a warning', async () => {
    // The Makefile's flags make every warning an error (-Wall -Wextra -Werror -Wconversion).
    const r = await run('make', ['-s', '-B', '-C', JAIL_DIR, `OUT=${dir}`, 'CC=gcc']);
    expect(r.stderr).toBe('');
    const built = await readFile(join(dir, 'tee-jail'));
    expect(built.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
  });

  (CAN_JAIL ? describe : describe.skip)('as root (the enclave runs it as root)', () => {
    let outside: Record<string, string>;
    let inside: Record<string, string>;
    let connectionsOutside = 0;
    beforeAll(async () => {
      const before = connections;
      const o = await exec(probe, [secret, String(port)]);
      connectionsOutside = connections - before;
      outside = parseProbe(o.stdout);
      const i = await jailed([probe, secret, String(port)]);
      expect(i.stderr).toBe('');
      expect(i.code).toBe(0);
      inside = parseProbe(i.stdout);
    });

    it('when the command runs, it is the build user with no supplementary groups, and cannot become root again', () => {
      expect(outside).toMatchObject({ uid: '0', setuid0: 'ok' });
      expect(inside).toMatchObject({ uid: '10001', gid: '10001', groups: '0' });
      expect(inside.setuid0).toBe(String(E.EPERM));
      expect(inside).toMatchObject({ no_new_privs: '1', seccomp: '2' });
    });

    it('when it opens a root-only device (as the worker leaves /dev/nsm), permission is denied', () => {
      expect(outside.open).toBe('ok');
      expect(inside.open).toBe(String(E.EACCES));
    });

    it('when it makes a vsock socket, the filter refuses it with EACCES, also with high bits in the family; inet sockets still work', () => {
      expect(outside.vsock).not.toBe(String(E.EACCES));
      expect(inside.vsock).toBe(String(E.EACCES));
      expect(inside.vsock_high).toBe(String(E.EACCES));
      expect(inside.inet).toBe('ok');
    });

    it('when it calls io_uring_setup or an x32 system call, they are refused', () => {
      expect(inside.io_uring).toBe(String(E.ENOSYS));
      if (process.arch === 'x64') {
        expect(outside.x32).not.toBe(String(E.EPERM));
        expect(inside.x32).toBe(String(E.EPERM));
      }
    });

    it('when it connects to a server on the host’s loopback, it reaches its own empty loopback and the server receives nothing', async () => {
      expect(outside.host_tcp).toBe('ok');
      expect(connectionsOutside).toBe(1);
      const before = connections;
      const again = parseProbe((await jailed([probe, secret, String(port)])).stdout);
      expect(again.host_tcp).toBe(String(E.ECONNREFUSED));
      expect(again.self_tcp).toBe('ok');
      expect(connections).toBe(before);
    });

    it('when the command leaves processes behind (setsid, nohup), none outlives it', async () => {
      const marker = `987.${process.pid}`;
      const leave =
        `setsid sleep ${marker}1 >/dev/null 2>&1 & ` +
        `nohup sleep ${marker}2 >/dev/null 2>&1 & echo left`;
      const r = await jailed(['bash', '-c', leave]);
      expect(r.stdout.trim()).toBe('left');
      expect(await processesWith(marker)).toEqual([]);
      // The control: without the jail the same command leaves both behind.
      await exec('bash', ['-c', leave]);
      // The two start in the background: wait (up to 10 s) until both run `sleep`.
      let left = await processesWith(marker);
      for (let i = 0; i < 100 && left.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 100));
        left = await processesWith(marker);
      }
      expect(left.length).toBe(2);
      for (const pid of left) process.kill(pid, 'SIGKILL');
    });

    it('when the command lists processes, it sees only its own namespace', async () => {
      const r = await jailed([
        'bash',
        '-c',
        'ls /proc | grep -c "^[0-9]*$"; cat /proc/1/cmdline | tr "\\0" " "',
      ]);
      const [count, init] = r.stdout.trim().split('\n');
      expect(Number(count)).toBeLessThan(6);
      expect(init).toContain('tee-jail');
    });

    it('when the command exits or is killed, the jail exits with its status (128+n for signal n); 127 when the program is missing', async () => {
      expect((await jailed(['bash', '-c', 'exit 7'])).code).toBe(7);
      expect((await jailed(['bash', '-c', 'kill -TERM $$'])).code).toBe(128 + 15);
      const missing = await jailed([join(dir, 'no-such-program')]);
      expect(missing.code).toBe(127);
      expect(missing.stderr).toMatch(/cannot run .*no-such-program: No such file/);
    });

    it('when started by a user other than root, it refuses with 125 and says why', async () => {
      const r = await exec('setpriv', [
        '--reuid=10001',
        '--regid=10001',
        '--clear-groups',
        jail,
        '--uid',
        '10001',
        '--gid',
        '10001',
        '--',
        'true',
      ]);
      expect(r.code).toBe(125);
      expect(r.stderr).toContain('must start as root');
    });

    it('when the worker probes it, the probe passes', async () => {
      await expect(probeJail({ helper: jail, uid: 10001, gid: 10001 })).resolves.toBeUndefined();
    });
  });

  it('when a flag is missing, unknown, root or not a number, it refuses with 125 naming it', async () => {
    const cases: [string[], RegExp][] = [
      [['--uid', '10001', '--', 'true'], /--uid and --gid are required/],
      [['--uid', '0', '--gid', '10001', '--', 'true'], /--uid must be a number from 1/],
      [['--uid', '10001', '--gid', 'x', '--', 'true'], /--gid must be a number from 1/],
      [['--uid', '-5', '--gid', '1', '--', 'true'], /--uid must be a number from 1/],
      [['--user', 'me', '--', 'true'], /unknown flag/],
      [['--uid', '10001', '--gid', '10001', '--'], /no program after --/],
    ];
    for (const [args, why] of cases) {
      const r = await exec(jail, args);
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(why);
    }
  });

  it('when the worker probes a jail that cannot be made, it rejects with the jail’s reason', async () => {
    await expect(
      probeJail({ helper: join(dir, 'missing-tee-jail'), uid: 10001, gid: 10001 }),
    ).rejects.toThrow(/the build jail cannot be made .*missing-tee-jail/);
  });

  it('when --build-user is given, it must be uid:gid without root', () => {
    expect(parseBuildUser('2000:3000')).toEqual({ uid: 2000, gid: 3000 });
    for (const bad of ['0:1', '1:0', '1', 'a:b', '1:2:3', '4294967295:1'])
      expect(() => parseBuildUser(bad)).toThrow('--build-user must be <uid>:<gid>');
  });
});
