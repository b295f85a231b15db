/** Long-running suites (fuzzing at full size): `npm run test:long`. */
import base from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  testPathIgnorePatterns: ['/node_modules/'],
  testMatch: ['<rootDir>/test/long/**/*.test.ts'],
  testTimeout: 3600000,
};
