// End-to-end suites against real servers (Prometheus, Alertmanager from Debian's packages):
// slower than `npm test`, run by `npm run test:e2e` and by CI after it installs them.
import base from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  roots: ['<rootDir>/test/e2e'],
  testMatch: ['**/*.e2e.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 60000,
};
