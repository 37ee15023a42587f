// Native ESM: @kubernetes/client-node 1.x and its auth dependencies are ESM-only, and
// running jest in ESM mode lets tests drive the real library without transforming it.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The end-to-end suites need real servers and take longer (`npm run test:e2e`); the crash suite
  // kills processes and mounts a tmpfs (`npm run test:crash`).
  testPathIgnorePatterns: ['/node_modules/', '/test/e2e/', '/test/soak/', '/test/crash/'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testTimeout: 20000,
};
