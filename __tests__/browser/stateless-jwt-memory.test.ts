import { exampleSuite } from './example-suite';

exampleSuite('stateless-jwt-memory', { AUTH_STRATEGY: 'stateless-jwt', AUTH_STORAGE: 'memory' });
