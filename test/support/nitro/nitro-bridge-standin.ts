/**
 * A stand-in for `socat - VSOCK-CONNECT:<cid>:<port>` on a machine without vsock: it looks the
 * CID up in the stand-in host's state (./nitro-standin-state.ts) and connects to the loopback TCP
 * port the enclave's worker listens on, then relays its stdin and stdout, as socat's STDIO address
 * does (half-close passed on, exit when the connection ends).
 *
 * What it reproduces of the real path (host socat -> vsock -> socat in the enclave -> worker):
 *   - no enclave with that CID, or nothing listening on that vsock port: socat's connect() fails,
 *     it logs an `E connect(…)` line and exits with status 1;
 *   - an enclave whose worker does not listen yet: the enclave's socat accepts the vsock
 *     connection, fails to reach 127.0.0.1:5000 and closes it, so the host side sees the stream
 *     end without a byte (enclave/shared/entrypoint.sh; socat(1) `fork`).
 */
import { connect } from 'node:net';
import { STATE_ENV, liveRecords } from './nitro-standin-state.js';

function socatLog(level: 'E' | 'N', text: string): void {
  const now = new Date();
  const p = (n: number): string => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}/${p(now.getMonth() + 1)}/${p(now.getDate())} ${p(now.getHours())}:${p(now.getMinutes())}:${p(now.getSeconds())}`;
  process.stderr.write(`${stamp} socat[${process.pid}] ${level} ${text}\n`);
}

function main(argv: string[]): void {
  const addresses = argv.filter(
    (a, i) => !a.startsWith('-d') && a !== '-t' && argv[i - 1] !== '-t',
  );
  const vsock = addresses.find((a) => a.startsWith('VSOCK-CONNECT:'));
  const stdio = addresses.find((a) => a === '-' || a === 'STDIO');
  const m = vsock ? /^VSOCK-CONNECT:(\d+):(\d+)$/.exec(vsock) : null;
  if (addresses.length !== 2 || !stdio || !m) {
    socatLog(
      'E',
      `exactly 2 addresses required (there are ${addresses.length}); use option "-h" for help`,
    );
    process.exit(1);
  }
  const state = process.env[STATE_ENV];
  if (state === undefined || state === '') {
    socatLog('E', `${STATE_ENV} is not set`);
    process.exit(1);
  }
  const cid = Number(m[1]);
  const port = m[2]!;
  const rec = liveRecords(state).find((r) => r.cid === cid);
  const tcpPort = rec?.ports[port];
  if (tcpPort === undefined) {
    socatLog('E', `connect(5, AF=40 cid:${cid} port:${port}, 16): Connection reset by peer`);
    process.exit(1);
  }
  const sock = connect({ host: '127.0.0.1', port: tcpPort });
  let connected = false;
  sock.once('connect', () => {
    connected = true;
    process.stdin.pipe(sock);
    sock.pipe(process.stdout);
  });
  sock.on('error', () => {
    // Refused before connecting: the enclave's socat closed the vsock connection; after: the
    // connection broke. Either way the stream just ends, as with socat.
    if (!connected) process.stdout.end();
  });
  sock.on('close', () => {
    process.stdout.end(() => process.exit(0));
  });
}

main(process.argv.slice(2));
