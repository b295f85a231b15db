/**
 * Jest transformer for the TypeScript sources and tests: esbuild strips the types (type-checking
 * is `npm run typecheck`'s job). ES modules are kept as such (jest runs with
 * --experimental-vm-modules), with inline source maps so that stack traces point at the .ts lines.
 */
'use strict';
const { createHash } = require('node:crypto');
const { transformSync, version } = require('esbuild');

module.exports = {
  process(source, path, options) {
    const r = transformSync(source, {
      loader: path.endsWith('.tsx') ? 'tsx' : 'ts',
      format: options.supportsStaticESM ? 'esm' : 'cjs',
      target: 'es2022',
      sourcemap: 'inline',
      sourcefile: path,
    });
    return { code: r.code };
  },
  getCacheKey(source, path, options) {
    return createHash('sha256')
      .update(`${version}\0${options.supportsStaticESM}\0${path}\0${source}`)
      .digest('hex');
  },
};
