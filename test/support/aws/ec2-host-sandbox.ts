/**
 * A sandbox in which a builder's user data runs as on a fresh Amazon Linux 2023 instance, for
 * tests: a temporary root (TC_ROOT), the real bash, curl, sha256sum and tar, and PATH stand-ins
 * of what exists only there — `dnf`, `useradd`, `chown` (record and succeed), `shutdown`
 * (records the time limit), `npm-22` (installs this checkout's CLI, bundled, with the catalog
 * given, as the npm package would be laid out), `systemctl` (starts a unit of
 * $TC_ROOT/etc/systemd/system as systemd would: Environment, EnvironmentFile, WorkingDirectory,
 * ExecStart, then ExecStopPost; units of packages are recorded), and `nitro-cli` (the stand-in
 * host's). Downloads go to the real hosts' names over HTTPS: a `.curlrc` (CURL_HOME) connects
 * images.example:443 and github.com:443 to one loopback server with a test certificate, which
 * serves the EIFs and a runner tarball whose `run.sh` is a stand-in of the Actions runner: it
 * reads the JIT configuration from ACTIONS_RUNNER_INPUT_JITCONFIG, signs a JWT with its key,
 * gets a token and opens a session with the GitHub stand-in (the runner goes online), and ends
 * the session on SIGTERM.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleForNode } from '../processes/sandbox-worker.js';
import { tempDir } from '../temp.js';
import type { ImageCatalog } from '../../../src/catalog/index.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const NODE = process.execPath;

/** The stand-in of the Actions runner (plain JS: it runs from the tarball as is). */
const RUNNER_JS = String.raw`
import { createPrivateKey, sign, randomUUID } from 'node:crypto';
const b = (s) => JSON.parse(Buffer.from(s, 'base64').toString('utf8'));
const jit = b(process.env.ACTIONS_RUNNER_INPUT_JITCONFIG ?? '');
const runner = b(jit['.runner']);
const cred = b(jit['.credentials']);
const rsa = b(jit['.credentials_rsaparams']);
const u = (s) => Buffer.from(s, 'base64').toString('base64url');
const key = createPrivateKey({ format: 'jwk', key: { kty: 'RSA', n: u(rsa.modulus), e: u(rsa.exponent), d: u(rsa.d), p: u(rsa.p), q: u(rsa.q), dp: u(rsa.dp), dq: u(rsa.dq), qi: u(rsa.inverseQ) } });
const now = Math.floor(Date.now() / 1000);
const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const head = enc({ alg: 'RS256', typ: 'JWT' });
const body = enc({ sub: cred.data.clientId, iss: cred.data.clientId, aud: cred.data.authorizationUrl, jti: randomUUID(), nbf: now, iat: now, exp: now + 300 });
const jwt = head + '.' + body + '.' + sign('RSA-SHA256', Buffer.from(head + '.' + body), key).toString('base64url');
const tok = await fetch(cred.data.authorizationUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: jwt }) });
if (!tok.ok) { console.error('token refused: ' + tok.status); process.exit(1); }
const { access_token } = await tok.json();
const auth = { authorization: 'Bearer ' + access_token };
const s = await fetch(runner.serverUrl + 'sessions', { method: 'POST', headers: auth });
if (!s.ok) { console.error('session refused: ' + s.status); process.exit(1); }
console.log('√ Connected to GitHub');
console.log('Listening for Jobs (' + runner.agentName + ')');
process.on('SIGTERM', async () => { await fetch(runner.serverUrl + 'sessions', { method: 'DELETE', headers: auth }); process.exit(0); });
setInterval(() => {}, 1 << 30);
`;

/** The systemctl stand-in (see the module comment). */
const SYSTEMCTL_JS = String.raw`
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const root = process.env.TC_ROOT;
const args = process.argv.slice(2);
const state = join(root, 'run/systemd-standin');
mkdirSync(state, { recursive: true });
if (args[0] === '__supervise') {
  const unit = args[1];
  const text = readFileSync(join(root, 'etc/systemd/system', unit), 'utf8');
  const get = (k) => text.split('\n').filter((l) => l.startsWith(k + '=')).map((l) => l.slice(k.length + 1));
  const env = { ...process.env };
  for (const e of get('Environment')) for (const kv of e.split(/\s+/)) if (kv.includes('=')) env[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
  for (const f of get('EnvironmentFile')) for (const l of readFileSync(f.replace(/^-/, ''), 'utf8').split('\n')) if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(l)) env[l.slice(0, l.indexOf('='))] = l.slice(l.indexOf('=') + 1);
  const cwd = get('WorkingDirectory')[0] ?? root;
  const run = (line) => new Promise((resolve) => {
    const [cmd, ...argv] = line.trim().split(/\s+/);
    const c = spawn(cmd, argv, { cwd, env, stdio: 'inherit' });
    writeFileSync(join(state, unit + '.main-pid'), String(c.pid));
    const stop = () => c.kill('SIGTERM');
    process.on('SIGTERM', stop);
    c.on('exit', (code) => { process.off('SIGTERM', stop); resolve(code); });
    c.on('error', () => resolve(127));
  });
  const code = await run(get('ExecStart')[0]);
  appendFileSync(join(state, 'exits.log'), unit + ' ' + code + '\n');
  for (const p of get('ExecStopPost')) await run(p);
  process.exit(0);
}
appendFileSync(join(state, 'calls.log'), JSON.stringify(args) + '\n');
if (args[0] === 'daemon-reload') process.exit(0);
if (args[0] === 'enable' || args[0] === 'start') {
  for (const unit of args.filter((a) => !a.startsWith('-') && a !== 'enable' && a !== 'start')) {
    if (!existsSync(join(root, 'etc/systemd/system', unit))) continue; // a package's unit
    const log = openSync(join(state, unit + '.log'), 'a');
    const c = spawn(process.execPath, [process.argv[1], '__supervise', unit], { detached: true, stdio: ['ignore', log, log], env: process.env });
    writeFileSync(join(state, unit + '.pid'), String(c.pid));
    c.unref();
  }
  process.exit(0);
}
console.error('systemctl stand-in: unsupported ' + args.join(' '));
process.exit(1);
`;

/** A prepared sandbox. */
export interface HostSandbox {
  dir: string;
  root: string;
  /** PATH for the script: the stand-ins first. */
  path: string;
  /** CURL_HOME with the .curlrc. */
  curlHome: string;
  runnerSha256: string;
  /** Every stand-in call: `[name, ...args]`. */
  calls(): string[][];
  /** systemctl calls. */
  systemctl(): string[][];
  /** pids of the supervisors of started units. */
  unitPids(): number[];
  close(): Promise<void>;
}

let cliBundle: Promise<string> | undefined;

/** The CLI bundled into one file (as lib/cli would be, loading its catalog from ../../enclave). */
function bundleCli(): Promise<string> {
  cliBundle ??= (async () => {
    const dir = await tempDir('tc-cli-bundle-');
    const entry = join(dir, 'entry.ts');
    writeFileSync(
      entry,
      `import { main } from ${JSON.stringify(join(ROOT, 'src/cli/main.ts'))};\nconst io = { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), env: process.env };\nprocess.exitCode = await main(process.argv.slice(2), io);\n`,
    );
    return bundleForNode(entry, join(dir, 'tee-compile.mjs'));
  })();
  return cliBundle;
}

function shim(bin: string, name: string, body: string): void {
  writeFileSync(
    join(bin, name),
    `#!/bin/bash\nprintf '%s\\0' ${JSON.stringify(name)} "$@" >> "$TC_ROOT/run/standin-calls"; printf '\\n' >> "$TC_ROOT/run/standin-calls"\n${body}\n`,
  );
  chmodSync(join(bin, name), 0o755);
}

/**
 * Prepares a sandbox: `eifs` maps URL paths on images.example to files; `catalog` is what the
 * installed package ships as enclave/images.json; `nitroCliDir` holds the stand-in nitro-cli.
 */
export async function createHostSandbox(o: {
  catalog: ImageCatalog;
  eifs: Record<string, string>;
  nitroCliDir: string;
  runnerVersion: string;
  tamper?: boolean;
}): Promise<HostSandbox> {
  const dir = await tempDir('tc-ec2-host-');
  const root = join(dir, 'root');
  const bin = join(dir, 'bin');
  for (const d of [root, bin, join(root, 'run'), join(dir, 'curl'), join(dir, 'runner')])
    mkdirSync(d, { recursive: true });
  // The Actions runner stand-in, packed as the release tarball.
  writeFileSync(join(dir, 'runner', 'runner.mjs'), RUNNER_JS);
  writeFileSync(
    join(dir, 'runner', 'run.sh'),
    `#!/bin/bash\nexec ${JSON.stringify(NODE)} "$(dirname "$0")/runner.mjs" "$@"\n`,
  );
  chmodSync(join(dir, 'runner', 'run.sh'), 0o755);
  const tarball = join(dir, 'runner.tar.gz');
  execFileSync('tar', ['-czf', tarball, '-C', join(dir, 'runner'), 'run.sh', 'runner.mjs']);
  const tarBytes = readFileSync(tarball);
  const runnerSha256 = createHash('sha256').update(tarBytes).digest('hex');
  // One HTTPS server for images.example and github.com, with a test certificate for both.
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=tee-compile test',
      '-addext',
      'subjectAltName=DNS:images.example,DNS:github.com',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  const runnerPath = `/actions/runner/releases/download/v${o.runnerVersion}/actions-runner-linux-x64-${o.runnerVersion}.tar.gz`;
  const server = createServer(
    { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
    (req, res) => {
      const host = (req.headers.host ?? '').split(':')[0];
      const path = new URL(req.url ?? '/', 'https://x').pathname;
      let bytes: Buffer | undefined;
      if (host === 'github.com' && path === runnerPath) bytes = tarBytes;
      if (host === 'images.example' && o.eifs[path] !== undefined) {
        bytes = readFileSync(o.eifs[path]);
        if (o.tamper === true) bytes = Buffer.concat([bytes, Buffer.from('x')]);
      }
      if (bytes === undefined) {
        res.writeHead(404);
        return res.end();
      }
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': bytes.length,
      });
      res.end(bytes);
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  writeFileSync(
    join(dir, 'curl', '.curlrc'),
    `connect-to = images.example:443:127.0.0.1:${port}\nconnect-to = github.com:443:127.0.0.1:${port}\ncacert = ${join(dir, 'cert.pem')}\n`,
  );
  // The package as npm would install it, with this checkout's CLI.
  const cli = await bundleCli();
  shim(
    bin,
    'npm-22',
    `prefix=""; while [ $# -gt 0 ]; do case "$1" in --prefix) prefix="$2"; shift 2;; *) shift;; esac; done
pkg="$prefix/lib/node_modules/tee-compile"
mkdir -p "$pkg/lib/cli" "$pkg/enclave" "$prefix/bin"
cp ${JSON.stringify(cli)} "$pkg/lib/cli/tee-compile.mjs"
cp ${JSON.stringify(join(ROOT, 'package.json'))} "$pkg/package.json"
cp ${JSON.stringify(join(dir, 'images.json'))} "$pkg/enclave/images.json"
printf '#!/bin/sh\\nexec %s %s "$@"\\n' ${JSON.stringify(NODE)} "$pkg/lib/cli/tee-compile.mjs" > "$prefix/bin/tee-compile"
chmod 755 "$prefix/bin/tee-compile"`,
  );
  writeFileSync(join(dir, 'images.json'), JSON.stringify(o.catalog, null, 2));
  for (const n of ['dnf', 'useradd', 'chown', 'shutdown']) shim(bin, n, 'exit 0');
  writeFileSync(join(dir, 'systemctl.mjs'), SYSTEMCTL_JS);
  shim(
    bin,
    'systemctl',
    `exec ${JSON.stringify(NODE)} ${JSON.stringify(join(dir, 'systemctl.mjs'))} "$@"`,
  );
  const readCalls = (): string[][] => {
    const f = join(root, 'run/standin-calls');
    if (!existsSync(f)) return [];
    return readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split('\0').filter((x) => x !== ''));
  };
  const state = join(root, 'run/systemd-standin');
  return {
    dir,
    root,
    path: [bin, o.nitroCliDir, '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
    curlHome: join(dir, 'curl'),
    runnerSha256,
    calls: readCalls,
    systemctl: () =>
      readCalls()
        .filter((c) => c[0] === 'systemctl')
        .map((c) => c.slice(1)),
    unitPids: () =>
      ['tee-compile-agent.service', 'actions-runner.service']
        .flatMap((u) => [join(state, `${u}.main-pid`), join(state, `${u}.pid`)])
        .filter((f) => existsSync(f))
        .map((f) => Number(readFileSync(f, 'utf8'))),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
