/**
 * req.principal / req.auth type-check in a user's app with no casts, on Express 5 types
 * (@types/express) and Express 4 types (@types/express4 = @types/express@4, mapped with `paths`), and behind
 * `authed()` `req.principal` is a non-null Principal; a property that does not exist on Principal, and
 * `req.principal.roles` on a route without `authed()`, fail to compile. Fixtures: __tests__/fixtures/.
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..', '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

function typecheck(config: string): { status: number | null; output: string } {
  const run = spawnSync(process.execPath, [tsc, '-p', join(root, '__tests__', 'fixtures', config), '--listFiles'], {
    cwd: root, encoding: 'utf8', timeout: 110_000,
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}
const errors = (output: string) => output.split('\n').filter((l) => /error TS\d+/.test(l));

jest.setTimeout(120_000);

test('the typed fixture compiles against Express 5 types and Express 4 types', () => {
  const v5 = typecheck('tsconfig.express5.json');
  expect(errors(v5.output)).toEqual([]);
  expect(v5.status).toBe(0);
  expect(v5.output).toMatch(/node_modules\/@types\/express\/index\.d\.ts/);
  expect(v5.output).not.toMatch(/@types\/express4\//);

  const v4 = typecheck('tsconfig.express4.json');
  expect(errors(v4.output)).toEqual([]);
  expect(v4.status).toBe(0);
  expect(v4.output).toMatch(/node_modules\/@types\/express4\/index\.d\.ts/);
  expect(v4.output).toMatch(/express4\/node_modules\/@types\/express-serve-static-core\//);
  expect(v4.output).not.toMatch(/node_modules\/@types\/express\/index\.d\.ts/);
});

test('req.principal.nope, and req.principal.roles outside authed(), fail to compile on both (for those reasons only)', () => {
  for (const config of ['tsconfig.negative.express5.json', 'tsconfig.negative.express4.json']) {
    const run = typecheck(config);
    expect(run.status).not.toBe(0);
    const found = errors(run.output);
    expect(found.every((line) => line.includes('typed-app-negative.tsx('))).toBe(true);
    expect(found.map((line) => line.replace(/^.*\): /, ''))).toEqual([
      "error TS2339: Property 'nope' does not exist on type 'Principal'.",
      "error TS18047: 'req.principal' is possibly 'null'.",
      "error TS18047: 'req.principal' is possibly 'null'.",
    ]);
  }
});
