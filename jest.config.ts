import type { Config } from 'jest';

// Type checking is done by `npm run typecheck` (tsc --noEmit); ts-jest only
// transpiles each file on its own (isolatedModules) so tests start fast.
const config: Config = {
  rootDir: '.',
  testEnvironment: 'node',
  testMatch: ['**/__tests__/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/dist/'],
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
  watchPathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/bench/results/'],
  transform: {
    '^.+\\.tsx?$': [
      'ts-jest',
      {
        tsconfig: { isolatedModules: true, sourceMap: true },
        diagnostics: false,
      },
    ],
  },
  moduleFileExtensions: ['ts', 'tsx', 'js', 'mjs', 'cjs', 'json', 'node'],
  globalSetup: '<rootDir>/__tests__/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/__tests__/helpers/global-teardown.ts',
  testTimeout: 20_000,
  // More workers than cores: many suites wait on timers, Redis and child processes rather than compute.
  maxWorkers: 3,
};

export default config;
