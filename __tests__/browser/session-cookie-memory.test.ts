import { exampleSuite } from './example-suite';

exampleSuite('session-cookie-memory', { AUTH_STRATEGY: 'session-cookie', AUTH_STORAGE: 'memory' });
