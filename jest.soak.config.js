// The soak test: the real agent for minutes under steady load while its sink, the Kubernetes API
// server and Falco's gRPC server fail and come back. `npm run test:soak` runs CI's short form
// (60 s); a real soak sets the duration, e.g. `PERCH_SOAK_SECONDS=1800 npm run test:soak`.
// The script passes --expose-gc so memory is sampled after a full collection.
import base from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  roots: ['<rootDir>/test/soak'],
  testMatch: ['**/*.soak.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  // The test sets its own timeout from PERCH_SOAK_SECONDS; this covers hooks.
  testTimeout: 120000,
};
