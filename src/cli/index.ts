/** The `tee-compile` command: a thin layer over the libraries (bin/tee-compile.js runs `main`). */
export { main } from './main.js';
export type { CliIo } from './io.js';
