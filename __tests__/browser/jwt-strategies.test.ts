import { exampleSuites } from './example-suite';

// The example app as `AUTH_STRATEGY=stateless-jwt|stateful-jwt npm run example` runs it.
exampleSuites([
  { label: 'stateless-jwt-memory', env: { AUTH_STRATEGY: 'stateless-jwt', AUTH_STORAGE: 'memory' } },
  { label: 'stateful-jwt-memory', env: { AUTH_STRATEGY: 'stateful-jwt', AUTH_STORAGE: 'memory' } },
]);
