#!/usr/bin/env node
// The `tee-compile` command. The TypeScript sources are compiled to lib/ by `npm run build`
// (run automatically by `npm ci` through the `prepare` script), which then bundles the command
// line into lib/cli-bundle/ (scripts/bundle-cli.mjs): it starts in less than half the time. The
// bundle runs when it is newer than lib/cli/main.js; after a `tsc` alone, lib/ runs as compiled.
import { statSync } from 'node:fs';

function bundleIsCurrent() {
  try {
    const bundle = statSync(new URL('../lib/cli-bundle/main.mjs', import.meta.url));
    const compiled = statSync(new URL('../lib/cli/main.js', import.meta.url));
    return bundle.mtimeMs >= compiled.mtimeMs;
  } catch {
    return false;
  }
}

const { main } = await import(
  bundleIsCurrent() ? '../lib/cli-bundle/main.mjs' : '../lib/cli/main.js'
);
const io = { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), env: process.env };
main(process.argv.slice(2), io).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(
      `tee-compile: internal error: ${err && err.stack ? err.stack : String(err)}\n`,
    );
    process.exitCode = 2;
  },
);
