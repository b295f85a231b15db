/**
 * The verify page in headless Chromium: a genuine Nitro document, simulated bundles with and
 * without the switch, a k-of-n set with a dissenter (from links), tampered bundles and a
 * malformed file; every verdict and code equal to `tee-compile verify --json`'s.
 */
import { mkdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import {
  GENUINE,
  isDebugFact,
  readFixture,
  NITRO_DIR,
} from '../support/attestation/attestation-fixtures.js';
import type { MadeBundle } from '../support/bundles/bundle-factory.js';
import {
  BUILDERS,
  DEFAULT_COMMIT,
  defaultOutputs,
  makeBundle,
  rebundle,
  writeBundleBytes,
} from '../support/bundles/bundle-factory.js';
import { runCli } from '../support/cli/cli.js';
import type { Browser, FileServer, PageVerdict } from '../support/web-page.js';
import {
  buildPage,
  consoleErrors,
  launchBrowser,
  serveFiles,
  verdictOf,
} from '../support/web-page.js';
import { tempDirSync } from '../support/temp.js';

const SCREENSHOTS = fileURLToPath(new URL('./.screenshots/', import.meta.url));
const te = new TextEncoder();

let dir: string;
let browser: Browser;
let site: FileServer;
/** Other origins: one without Access-Control-Allow-Origin, one with it. */
let refusing: FileServer;
let permitting: FileServer;
let page: Page;
let errors: string[];

/** The CLI's verdict and codes for the same files. */
async function cli(files: string[], flags: string[] = []): Promise<PageVerdict> {
  const r = await runCli(['verify', ...files, '--json', ...flags], { cwd: dir });
  const report = JSON.parse(r.stdout) as {
    ok: boolean;
    code: string | null;
    bundles: { bundle: string; code: string | null }[];
  };
  return {
    verdict: report.ok ? 'verified' : 'refused',
    code: report.code ?? '',
    bundles: report.bundles.map((b) => ({ bundle: b.bundle, code: b.code ?? '' })),
  };
}

async function open(query = ''): Promise<void> {
  page = await browser.context.newPage();
  errors = consoleErrors(page);
  await page.goto(`${site.origin}/index.html${query}`);
}

/** Drops `files` (name -> bytes) on the page, with the switch and a policy file when given. */
async function drop(
  files: Record<string, Uint8Array>,
  opts: { simulated?: boolean; policy?: Uint8Array } = {},
): Promise<PageVerdict> {
  await open();
  if (opts.simulated === true) await page.check('#simulated');
  if (opts.policy !== undefined) {
    await page.setInputFiles('#policy', {
      name: 'policy.json',
      mimeType: 'application/json',
      buffer: Buffer.from(opts.policy),
    });
  }
  await page.setInputFiles(
    '#files',
    Object.entries(files).map(([name, b]) => ({
      name,
      mimeType: 'application/gzip',
      buffer: Buffer.from(b),
    })),
  );
  return verdictOf(page);
}

/** Writes bundles to the test folder and returns their paths (the names the CLI reports). */
async function onDisk(files: Record<string, Uint8Array>): Promise<string[]> {
  return Promise.all(Object.entries(files).map(([n, b]) => writeBundleBytes(dir, n, b)));
}

/** The page's verdict equals the CLI's, bundle by bundle (the CLI names bundles by path). */
function expectSame(got: PageVerdict, want: PageVerdict): void {
  expect(got.verdict).toBe(want.verdict);
  expect(got.code).toBe(want.code);
  expect(got.bundles.map((b) => b.code)).toEqual(want.bundles.map((b) => b.code));
}

let alpha: MadeBundle;

beforeAll(async () => {
  dir = tempDirSync('bundles-');
  const [html, b, s, r, p] = await Promise.all([
    // The published page reads the page's own origin and https hosts; the loopback hosts of this
    // test are plain http, so they are allowed too, for the browser's own CORS checks to decide.
    buildPage(dir, "'self' https: http://127.0.0.1:*"),
    launchBrowser(),
    serveFiles(false),
    serveFiles(false),
    serveFiles(true),
  ]);
  browser = b;
  site = s;
  refusing = r;
  permitting = p;
  site.files.set('/index.html', { body: await readFile(html), type: 'text/html; charset=utf-8' });
  alpha = await makeBundle({ builder: BUILDERS[0]! });
  mkdirSync(SCREENSHOTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await refusing?.close();
  await permitting?.close();
});

afterEach(async () => {
  // The Content-Security-Policy lets the page run: no violation, no uncaught error.
  expect(errors.filter((e) => !/Failed to load resource|CORS|Access-Control/i.test(e))).toEqual([]);
  await page.close();
});

describe('the verify page', () => {
  it('when a genuine Nitro attestation document is dropped alone, it shows it valid', async () => {
    const facts = GENUINE.find((f) => !isDebugFact(f))!;
    const got = await drop({ [facts.file]: readFixture(facts.file) });
    const want = await runCli(['attestation', 'verify', join(NITRO_DIR, facts.file), '--json']);
    expect(want.code).toBe(0);
    expect(got.verdict).toBe('verified');
    expect(got.code).toBe('');
    expect(await page.textContent('.result')).toContain(facts.module_id);
  });

  it('when a simulated bundle is dropped without the switch, it refuses it as the CLI does', async () => {
    const got = await drop({ 'alpha.bundle.tar.gz': alpha.bytes });
    const want = await cli(await onDisk({ 'alpha.bundle.tar.gz': alpha.bytes }));
    expect(got.code).toBe('SIMULATED_NOT_ALLOWED');
    expectSame(got, want);
  });

  it('when the switch is on, it verifies it and marks every part SIMULATED', async () => {
    const got = await drop({ 'alpha.bundle.tar.gz': alpha.bytes }, { simulated: true });
    const want = await cli(await onDisk({ 'alpha.bundle.tar.gz': alpha.bytes }), [
      '--allow-simulated',
    ]);
    expect(got.verdict).toBe('verified');
    expectSame(got, want);
    // The verdict, the bundle and each of the five steps of its chain of custody.
    expect(await page.locator('.verdict .sim').count()).toBe(1);
    expect(await page.locator('.step').count()).toBe(5);
    expect(await page.locator('.step h4 .sim').count()).toBe(5);
    expect(await page.textContent('.outputs')).toContain(alpha.statement.subject[0]!.digest.sha256);
    await page.screenshot({ path: join(SCREENSHOTS, 'verified.png'), fullPage: true });
  });

  it('when bundles and a policy are named in the link, it verifies k of n and names the dissenter', async () => {
    const [beta, gamma] = await Promise.all([
      makeBundle({ builder: BUILDERS[1]! }),
      makeBundle({
        builder: BUILDERS[2]!,
        outputs: { ...defaultOutputs(), 'target/release/VERSION': 'hello 1.0.0 (patched)\n' },
      }),
    ]);
    const policy = te.encode(
      JSON.stringify({
        builders: BUILDERS.slice(0, 3).map((b) => ({ name: b.name, iamRole: b.iamRole })),
        minBuilders: 2,
        allowSimulated: true,
      }),
    );
    const files = {
      'alpha.bundle.tar.gz': alpha.bytes,
      'beta.bundle.tar.gz': beta.bytes,
      'gamma.bundle.tar.gz': gamma.bytes,
    };
    for (const [n, b] of Object.entries(files))
      site.files.set(`/r/${n}`, { body: b, type: 'application/gzip' });
    site.files.set('/r/policy.json', { body: policy, type: 'application/json' });
    const query = `?${Object.keys(files)
      .map((n) => `bundle=/r/${n}`)
      .join('&')}&policy=/r/policy.json&commit=${DEFAULT_COMMIT}`;
    await open(query);
    const got = await verdictOf(page);
    const policyPath = join(dir, 'policy.json');
    await writeFile(policyPath, policy);
    const want = await cli(await onDisk(files), [
      '--policy',
      policyPath,
      '--commit',
      DEFAULT_COMMIT,
    ]);
    expect(got.verdict).toBe('verified');
    expectSame(got, want);
    expect(await page.textContent('.agree')).toContain('alpha, beta');
    expect(await page.textContent('.dissent')).toContain('gamma');
    expect(await page.textContent('.difference')).toContain('target/release/VERSION');
    expect(await page.getAttribute('article.dissenting', 'data-bundle')).toBe(
      'gamma.bundle.tar.gz',
    );
    await page.screenshot({ path: join(SCREENSHOTS, 'set.png'), fullPage: true });
  });

  it("when a bundle is tampered with, it refuses it with the CLI's code", async () => {
    const other = await makeBundle({ nonce: 'aa'.repeat(16) });
    const tampered = {
      'artifact.bundle.tar.gz': await rebundle(alpha.contents, (c) =>
        c.artifacts.set('target/release/hello', te.encode('not the built binary')),
      ),
      'provenance.bundle.tar.gz': await rebundle(alpha.contents, (c) => {
        c.provenance = te.encode(
          new TextDecoder().decode(c.provenance).replace('example/hello', 'example/hellO'),
        );
      }),
      'swapped.bundle.tar.gz': await rebundle(alpha.contents, (c) => {
        c.attestation = other.contents.attestation;
      }),
      'broken.bundle.tar.gz': te.encode('this is not a bundle at all\n'.repeat(40)),
    };
    const codes: Record<string, string> = {};
    for (const [name, bytes] of Object.entries(tampered)) {
      const got = await drop({ [name]: bytes }, { simulated: true });
      const want = await cli(await onDisk({ [name]: bytes }), ['--allow-simulated']);
      expect(got.verdict).toBe('refused');
      expectSame(got, want);
      // The explanation and the code are shown.
      expect(await page.textContent('.verdict .code')).toContain(got.code);
      expect(await page.locator('.verdict .todo').count()).toBe(1);
      codes[name] = got.code;
      if (name === 'artifact.bundle.tar.gz')
        await page.screenshot({ path: join(SCREENSHOTS, 'refused.png'), fullPage: true });
      if (name !== 'broken.bundle.tar.gz') await page.close();
    }
    expect(codes).toEqual({
      'artifact.bundle.tar.gz': 'SUBJECT_DIGEST_MISMATCH',
      'provenance.bundle.tar.gz': 'USER_DATA_MISMATCH',
      'swapped.bundle.tar.gz': 'ATTESTATION_MISMATCH',
      'broken.bundle.tar.gz': 'BUNDLE_MALFORMED',
    });
  });

  it('when a malformed attestation document is dropped, it refuses it as the CLI does', async () => {
    const facts = GENUINE.find((f) => !isDebugFact(f))!;
    const cut = readFixture(facts.file).subarray(0, 300);
    const got = await drop({ 'cut.cbor': cut });
    const path = join(dir, 'cut.cbor');
    await writeFile(path, cut);
    const want = JSON.parse((await runCli(['attestation', 'verify', path, '--json'])).stdout) as {
      ok: boolean;
      code: string;
    };
    expect(want.ok).toBe(false);
    expect(got).toMatchObject({ verdict: 'refused', code: want.code });
  });

  it('when the link names the expected commit, a bundle of another commit is refused', async () => {
    site.files.set('/r/alpha.bundle.tar.gz', { body: alpha.bytes, type: 'application/gzip' });
    const other = 'f'.repeat(40);
    await open(`?bundle=/r/alpha.bundle.tar.gz&commit=${other}&nonce=${alpha.nonce}`);
    expect((await verdictOf(page)).code).toBe('SIMULATED_NOT_ALLOWED');
    // The switch runs it again (the link's bundle fetched again).
    await page.check('#simulated');
    const got = await verdictOf(page);
    const want = await cli(await onDisk({ 'alpha.bundle.tar.gz': alpha.bytes }), [
      '--allow-simulated',
      '--commit',
      other,
      '--nonce',
      alpha.nonce,
    ]);
    expect(got.code).toBe('COMMIT_MISMATCH');
    expectSame(got, want);
  });

  it('when a host refuses cross-origin reads, it says so and links the file to download', async () => {
    refusing.files.set('/a.bundle.tar.gz', { body: alpha.bytes, type: 'application/gzip' });
    const url = `${refusing.origin}/a.bundle.tar.gz`;
    await open(`?bundle=${encodeURIComponent(url)}`);
    const got = await verdictOf(page);
    expect(got).toMatchObject({ verdict: 'error', code: 'FETCH_REFUSED' });
    expect(await page.getAttribute('.verdict a[download]', 'href')).toBe(url);
  });

  it('when a host allows cross-origin reads, a bundle on it is verified as a stream with progress', async () => {
    // Random bytes do not compress: a bundle of about 4 MB.
    const big = new Uint8Array(4 * 1024 * 1024);
    for (let off = 0; off < big.length; off += 65536)
      crypto.getRandomValues(big.subarray(off, off + 65536));
    const made = await makeBundle({ outputs: { 'big.bin': big } });
    permitting.files.set('/big.bundle.tar.gz', { body: made.bytes, type: 'application/gzip' });
    await open(`?bundle=${encodeURIComponent(`${permitting.origin}/big.bundle.tar.gz`)}`);
    expect((await verdictOf(page)).code).toBe('SIMULATED_NOT_ALLOWED');
    // Records every progress value the page shows while it reads the bundle again.
    await page.evaluate(() => {
      const seen: number[] = [];
      (window as unknown as { seen: number[] }).seen = seen;
      new MutationObserver(() => {
        for (const p of Array.from(document.querySelectorAll('progress'))) seen.push(p.value);
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    await page.check('#simulated');
    const verified = await verdictOf(page);
    expect(verified.verdict).toBe('verified');
    const seen = await page.evaluate(() => (window as unknown as { seen: number[] }).seen);
    // Several distinct values below the whole: the page advanced while reading.
    expect(new Set(seen.filter((v) => v > 0 && v < made.bytes.length)).size).toBeGreaterThan(2);
  });

  it("when the CLI's readable report links the page, the link opens it set to the verified commit", async () => {
    const [path] = await onDisk({ 'alpha.bundle.tar.gz': alpha.bytes });
    const r = await runCli(['verify', path!, '--allow-simulated'], {
      env: { ...process.env, TEE_COMPILE_VERIFY_PAGE: `${site.origin}/index.html` },
    });
    const line = r.stdout.split('\n').find((l) => l.includes('in a browser: '))!;
    expect(line.startsWith('SIMULATED ')).toBe(true);
    const url = /(http:\/\/\S+)$/.exec(line)![1]!;
    page = await browser.context.newPage();
    errors = consoleErrors(page);
    await page.goto(url);
    expect(await page.inputValue('#commit')).toBe(DEFAULT_COMMIT);
    await page.check('#simulated');
    await page.setInputFiles('#files', {
      name: 'alpha.bundle.tar.gz',
      mimeType: 'application/gzip',
      buffer: Buffer.from(alpha.bytes),
    });
    expect((await verdictOf(page)).verdict).toBe('verified');
    expect(await page.textContent('.step')).toContain('checked: the expected commit');
  });
});
