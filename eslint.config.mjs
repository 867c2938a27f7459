// Lint: typescript-eslint's recommended rules, plus the shape rules the project holds itself to
// (short functions in the package; layering is checked by scripts/check-layers.mjs).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/results/**', 'coverage/**', 'docs/api/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: ['lib/**/*.ts', 'adapters/**/*.ts'],
    rules: {
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
      'no-console': 'error',
    },
  },
  { files: ['**/*.mjs', '**/*.cjs', '**/*.js', 'bench/**', 'scripts/**'], languageOptions: { globals: globals.node } },
  { files: ['**/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  { files: ['example-app/public/**'], languageOptions: { globals: globals.browser } },
  // Tests load a second copy of the package with require() on purpose (request-slot.test.ts).
  { files: ['__tests__/**'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
);
