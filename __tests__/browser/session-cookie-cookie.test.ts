import { exampleSuite } from './example-suite';

exampleSuite('session-cookie-cookie', { AUTH_STRATEGY: 'session-cookie', AUTH_STORAGE: 'cookie' });
