#!/usr/bin/env node
// The `tee-compile` command. The TypeScript sources are compiled to lib/ by `npm run build`
// (run automatically by `npm ci` through the `prepare` script).
import { main } from '../lib/cli/main.js';

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
