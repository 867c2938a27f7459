import { exampleSuites } from './example-suite';

// The example app as `AUTH_STRATEGY=session-cookie AUTH_STORAGE=memory|cookie npm run example` runs it.
exampleSuites([
  { label: 'session-cookie-memory', env: { AUTH_STRATEGY: 'session-cookie', AUTH_STORAGE: 'memory' } },
  { label: 'session-cookie-cookie', env: { AUTH_STRATEGY: 'session-cookie', AUTH_STORAGE: 'cookie' } },
]);
