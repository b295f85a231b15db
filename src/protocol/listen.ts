/**
 * The worker's listening side: accept exactly one WebSocket on a listening socket, then stop
 * listening (single use). The socket may have been opened here (`--listen host:port`, e.g.
 * 127.0.0.1:5000 behind the vsock bridge on Nitro) or handed over by the local backend.
 */
import { createServer } from 'node:http';
import type { Server as NetServer, Socket } from 'node:net';
import { createServer as createNetServer } from 'node:net';
import type { WebSocket } from 'ws';
import { WebSocketServer } from 'ws';
import { ProtocolError } from './errors.js';

export interface AcceptOptions {
  /** Largest frame accepted (ws `maxPayload`). */
  maxPayload: number;
  /** Give up when no client has connected after this long. */
  timeoutMs: number;
}

/** Connections accepted by `listenOnce` before `acceptOne` took the server over. */
const early = new WeakMap<NetServer, { sockets: Socket[]; hold: (s: Socket) => void }>();

/**
 * Opens a listening TCP socket on `host:port`. Connections that arrive before `acceptOne` is
 * called are held (paused) and handed to it, so the address may be announced at once.
 */
export function listenOnce(host: string, port: number): Promise<NetServer> {
  return new Promise((resolve, reject) => {
    const server = createNetServer({ pauseOnConnect: true });
    const held = {
      sockets: [] as Socket[],
      hold: (s: Socket): void => void held.sockets.push(s),
    };
    early.set(server, held);
    server.on('connection', held.hold);
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/**
 * Accepts the first WebSocket upgrade on `server` and closes the listener. Plain HTTP requests get
 * 426; an upgrade racing the first gets 409 (single use). Rejects with `PROTOCOL_TIMEOUT` when
 * nobody connects in time. The WebSocket comes paused; a `Channel` resumes it.
 */
export function acceptOne(server: NetServer, opts: AcceptOptions): Promise<WebSocket> {
  const http = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain', connection: 'close' });
    res.end('tee-compile worker: WebSocket only\n');
  });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: opts.maxPayload,
    perMessageDeflate: false,
  });
  const sockets = new Set<Socket>();
  const onConnection = (s: Socket): void => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    http.emit('connection', s);
    // listenOnce's server accepts paused; the HTTP server reads from here on.
    s.resume();
  };
  const held = early.get(server);
  if (held) {
    server.off('connection', held.hold);
    early.delete(server);
  }
  server.on('connection', onConnection);
  // Connections held by listenOnce go to the HTTP server now.
  for (const s of held?.sockets ?? []) onConnection(s);
  return new Promise((resolve, reject) => {
    let taken = false;
    const timer = setTimeout(() => {
      taken = true;
      server.off('connection', onConnection);
      server.close();
      for (const s of sockets) s.destroy();
      reject(
        new ProtocolError(
          'PROTOCOL_TIMEOUT',
          `no client connected within ${Math.round(opts.timeoutMs / 1000)} s`,
        ),
      );
    }, opts.timeoutMs);
    timer.unref();
    http.on('upgrade', (req, socket: Socket, head: Buffer) => {
      if (taken) {
        socket.end('HTTP/1.1 409 Conflict\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      taken = true;
      clearTimeout(timer);
      // Single use: nobody else gets in once the client is here.
      // Connections already accepted stay with the HTTP server: an upgrade gets 409, anything
      // else 426, and idle ones its request timeout.
      server.off('connection', onConnection);
      server.close();
      // Paused until a Channel takes it: a message emitted before anyone listens would be lost.
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.pause();
        resolve(ws);
      });
    });
  });
}
