import type { Config } from 'jest';

// Type checking is done by `npm run typecheck` (tsc --noEmit); ts-jest only
// transpiles each file on its own (isolatedModules) so tests start fast.
const project = {
  rootDir: '.',
  testEnvironment: 'node',
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/dist/'],
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
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
} satisfies Config;

const config: Config = {
  projects: [
    { ...project, displayName: 'express5', testMatch: ['**/__tests__/**/*.test.ts'], globals: { EXPECTED_EXPRESS_MAJOR: '5' } },
    // The strategies' HTTP suites once more on Express 4 (the `express4` alias): the app, the library's
    // `require('express')` and supertest's server all get Express 4.
    {
      ...project,
      displayName: 'express4',
      testMatch: ['**/__tests__/strategies/*.test.ts', '**/__tests__/guards.test.ts', '**/__tests__/csrf.test.ts'],
      moduleNameMapper: { '^express$': 'express4' },
      globals: { EXPECTED_EXPRESS_MAJOR: '4' },
    },
  ],
  watchPathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/bench/results/'],
  globalSetup: '<rootDir>/__tests__/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/__tests__/helpers/global-teardown.ts',
  testTimeout: 20_000,
  // More workers than cores: many suites wait on timers, Redis and child processes rather than compute.
  maxWorkers: 3,
};

export default config;
