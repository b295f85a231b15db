/** Unit and integration tests: `npm run test:unit`. Long-running suites live in test/long (jest.long.config.js). */

/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': '<rootDir>/test/support/esbuild-jest.cjs' },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/long/'],
  setupFilesAfterEnv: ['<rootDir>/test/support/matchers.ts'],
  globalSetup: '<rootDir>/test/support/tmp-setup.mjs',
  globalTeardown: '<rootDir>/test/support/tmp-teardown.mjs',
  testTimeout: 120000,
  maxWorkers: 2,
};
