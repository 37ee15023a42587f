// The crash-safety suite: the real agent killed with SIGKILL mid-stream, its spool on a full disk
// (a small tmpfs: needs root, as CI runs), and stopped with a backlog. `npm run test:crash`.
import base from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  roots: ['<rootDir>/test/crash'],
  testMatch: ['**/*.crash.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 120000,
};
