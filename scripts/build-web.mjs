// Builds the static verify page: web/ -> web/dist/index.html, one self-contained file (script and
// styles inlined) that runs offline and can be hosted anywhere (e.g. GitHub Pages).
//
// Its Content-Security-Policy allows only the inlined script and style (by their SHA-256) and
// network reads for `?bundle=` / `&policy=` links (connect-src; default: the page's own origin and
// any https host, since releases live anywhere). Nothing else loads: no fonts, images, frames or
// third-party requests.
//
//   node scripts/build-web.mjs [--out <file>] [--connect-src "<sources>"]
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build, transform } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    out: { type: 'string', default: join(root, 'web', 'dist', 'index.html') },
    'connect-src': { type: 'string', default: "'self' https:" },
  },
});

// zod's classic API re-exports every locale as a namespace; the page uses English only (as the CLI
// does), so the other locales are left out (about 260 kB).
const englishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${join('node_modules', 'zod')}`)
        ? { path: join(dirname(args.importer), '..', 'locales', 'index.js'), namespace: 'zod-en' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-en' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(join(dirname(args.path), 'en.js'))};`,
      loader: 'js',
      resolveDir: dirname(args.path),
    }));
  },
};

const bundled = await build({
  absWorkingDir: root,
  entryPoints: ['web/src/main.ts'],
  bundle: true,
  write: false,
  format: 'iife',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  charset: 'utf8',
  plugins: [englishOnly],
  logLevel: 'warning',
});
const script = bundled.outputFiles[0].text.trim();
const style = (
  await transform(readFileSync(join(root, 'web', 'style.css'), 'utf8'), {
    loader: 'css',
    minify: true,
  })
).code.trim();

// Inlined text must not close its own element.
if (/<\/script/i.test(script)) throw new Error('the page script contains </script');
if (/<\/style/i.test(style)) throw new Error('the page style contains </style');

const hash = (text) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
const csp = [
  "default-src 'none'",
  `script-src ${hash(script)}`,
  `style-src ${hash(style)}`,
  `connect-src ${values['connect-src']}`,
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const catalog = JSON.parse(readFileSync(join(root, 'enclave', 'images.json'), 'utf8'));
const images = catalog.images.map((i) => `${i.name} ${i.version}`).join(', ');
const escape = (t) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

// Function replacers: `$` in the script is not a replacement pattern.
const html = readFileSync(join(root, 'web', 'index.html'), 'utf8')
  .replace('{{CSP}}', () => escape(csp))
  .replace('{{VERSION}}', () => escape(pkg.version))
  .replace('{{IMAGES}}', () => escape(images))
  .replace('<!-- STYLE: the inlined style element -->', () => `<style>${style}</style>`)
  .replace('<!-- SCRIPT: the inlined script element -->', () => `<script>${script}</script>`);
if (!html.includes(script) || !html.includes(style) || html.includes('{{'))
  throw new Error('web/index.html lacks a placeholder');

const out = resolve(values.out);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, html);
const bytes = Buffer.byteLength(html);
console.log(`${out}: ${bytes} bytes, ${gzipSync(html, { level: 9 }).length} bytes gzipped`);
