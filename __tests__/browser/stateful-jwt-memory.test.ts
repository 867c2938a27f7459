import { exampleSuite } from './example-suite';

exampleSuite('stateful-jwt-memory', { AUTH_STRATEGY: 'stateful-jwt', AUTH_STORAGE: 'memory' });
