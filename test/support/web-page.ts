/**
 * The verify page in a real browser: the page built by scripts/build-web.mjs, served from loopback
 * with the files a test puts next to it, opened in Debian's headless Chromium through
 * playwright-core (never a downloaded browser). One browser serves a whole test file.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Builds the page into `dir` (with its CSP's connect-src when given) and returns its path. */
export async function buildPage(dir: string, connectSrc?: string): Promise<string> {
  const out = join(dir, 'index.html');
  const args = [join(ROOT, 'scripts', 'build-web.mjs'), '--out', out];
  if (connectSrc !== undefined) args.push('--connect-src', connectSrc);
  await promisify(execFile)(process.execPath, args);
  return out;
}

/**
 * A loopback HTTP server of fixed files; `cors` adds Access-Control-Allow-Origin: *. Bodies over
 * 1 MiB are sent in 256 KiB pieces a few milliseconds apart, as a network delivers them (on
 * loopback the whole body could arrive in one read, and a page's progress would have nothing to
 * show).
 */
export interface FileServer {
  origin: string;
  files: Map<string, { body: Uint8Array; type: string }>;
  close(): Promise<void>;
}

const PIECE = 256 * 1024;

export async function serveFiles(cors: boolean): Promise<FileServer> {
  const files = new Map<string, { body: Uint8Array; type: string }>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const f = files.get(path);
    if (cors) res.setHeader('Access-Control-Allow-Origin', '*');
    if (f === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': f.type, 'content-length': String(f.body.length) });
    if (f.body.length <= PIECE * 4) {
      res.end(f.body);
      return;
    }
    const body = f.body;
    const send = (off: number): void => {
      if (res.destroyed) return;
      if (off + PIECE >= body.length) {
        res.end(body.subarray(off));
        return;
      }
      res.write(body.subarray(off, off + PIECE), () => setTimeout(() => send(off + PIECE), 5));
    };
    send(0);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    files,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Headless Chromium with a fresh profile. */
export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1100, height: 900 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** What the page says on its root element once done. */
export interface PageVerdict {
  verdict: string;
  code: string;
  /** Each bundle's card: its name and code ('' when verified). */
  bundles: { bundle: string; code: string }[];
}

/** Waits for the page to finish and reads its verdict. */
export async function verdictOf(page: Page): Promise<PageVerdict> {
  await page.waitForFunction(() => document.documentElement.dataset.state === 'done', null, {
    timeout: 60_000,
  });
  return page.evaluate(() => ({
    verdict: document.documentElement.dataset.verdict ?? '',
    code: document.documentElement.dataset.code ?? '',
    bundles: Array.from(document.querySelectorAll<HTMLElement>('article[data-bundle]'), (a) => ({
      bundle: a.dataset.bundle ?? '',
      code: a.dataset.code ?? '',
    })),
  }));
}

/** Errors the page logged (CSP violations included), collected from the moment it opens. */
export function consoleErrors(page: Page): string[] {
  const out: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') out.push(m.text());
  });
  page.on('pageerror', (e) => out.push(String(e)));
  return out;
}

/** The built page's bytes. */
export function readPage(path: string): Promise<Buffer> {
  return readFile(path);
}
