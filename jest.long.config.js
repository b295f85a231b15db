/** Long-running suites (fuzzing at full size): `npm run test:long`. */
import base from './jest.config.js';

/** @type {import('jest').Config} */
// The temporary-folder check (test/support/tmp-*.mjs) runs on the unit suite only: the long suites
// have not been run against it yet.
export default {
  ...base,
  globalSetup: undefined,
  globalTeardown: undefined,
  testPathIgnorePatterns: ['/node_modules/'],
  testMatch: ['<rootDir>/test/long/**/*.test.ts'],
  testTimeout: 3600000,
};
