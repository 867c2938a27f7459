/**
 * A TypeScript app compiles against the package's build with `strict` and `skipLibCheck: false`, having installed
 * nothing for the package's sake: its node_modules holds the build, the package's own runtime dependencies (as
 * npm installs them; none of them ships types), express, @types/express and @types/node. No @types/express-session,
 * no redis, no connect-redis. On Express 5 types and on Express 4 types (@types/express4 installed as @types/express).
 * The fixture (__tests__/fixtures/consumer/app.ts) also proves that a strategy's and a store's internals are not
 * in the public types (`@ts-expect-error` lines that fail to compile once they stop being errors).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..', '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };

/** The consumer's own tsconfig: what a strict app has, with every library file checked. */
const CONSUMER_TSCONFIG = {
  compilerOptions: {
    target: 'ES2022', lib: ['ES2022'], module: 'node16', moduleResolution: 'node16',
    strict: true, skipLibCheck: false, noEmit: true, esModuleInterop: true,
  },
  files: ['app.ts'],
};

let work: string;
let build: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'ep-consumer-types-'));
  build = join(work, 'build');
  mkdirSync(build);
  // A private outDir: the shared dist/ of this tree is left to `npm run build`.
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', join(build, 'dist')], { cwd: root, timeout: 170_000 });
  cpSync(join(root, 'package.json'), join(build, 'package.json'));
}, 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

jest.setTimeout(120_000);

/** A project whose node_modules holds a copy of the build and only the named installs (symlinked). */
function consumer(name: string, typesExpress: string): string {
  const project = join(work, name);
  const modules = join(project, 'node_modules');
  mkdirSync(join(modules, '@types'), { recursive: true });
  cpSync(build, join(modules, 'express-principal'), { recursive: true });
  for (const dep of ['express', ...Object.keys(manifest.dependencies)]) symlinkSync(join(root, 'node_modules', dep), join(modules, dep), 'dir');
  symlinkSync(join(root, 'node_modules', '@types', typesExpress), join(modules, '@types', 'express'), 'dir');
  symlinkSync(join(root, 'node_modules', '@types', 'node'), join(modules, '@types', 'node'), 'dir');
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: `ep-consumer-${name}`, version: '1.0.0', private: true }));
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(CONSUMER_TSCONFIG, null, 2));
  cpSync(join(root, '__tests__', 'fixtures', 'consumer', 'app.ts'), join(project, 'app.ts'));
  return project;
}

function compile(project: string): { status: number | null; errors: string[]; files: string[] } {
  const run = spawnSync(process.execPath, [tsc, '-p', join(project, 'tsconfig.json'), '--listFiles'], { cwd: project, encoding: 'utf8', timeout: 110_000 });
  const lines = `${run.stdout}${run.stderr}`.split('\n');
  return { status: run.status, errors: lines.filter((l) => /error TS\d+/.test(l)), files: lines.filter((l) => l.startsWith('/')) };
}

test.each([
  ['Express 5 types', 'express', '5'],
  ['Express 4 types', 'express4', '4'],
])('a strict app with skipLibCheck: false compiles against the build with %s and nothing else installed', (_label, typesExpress, major) => {
  const installed = JSON.parse(readFileSync(join(root, 'node_modules', '@types', typesExpress, 'package.json'), 'utf8')) as { version: string };
  expect(installed.version.split('.')[0]).toBe(major);
  const project = consumer(typesExpress, typesExpress);

  const result = compile(project);
  expect(result.errors).toEqual([]);
  expect(result.status).toBe(0);
  // The package's declarations were what got checked, from the copy in the consumer's node_modules…
  expect(result.files).toEqual(expect.arrayContaining([
    join(project, 'node_modules', 'express-principal', 'dist', 'lib', 'index.d.ts'),
    join(project, 'node_modules', 'express-principal', 'dist', 'lib', 'testing.d.ts'),
  ]));
  // …on the intended Express types, and without the declarations of anything the app did not install.
  expect(result.files.some((f) => f.startsWith(join(root, 'node_modules', '@types', typesExpress) + '/'))).toBe(true);
  expect(result.files.filter((f) => /[\\/]node_modules[\\/](@types[\\/])?(express-session|connect-redis|@redis|redis)[\\/]/.test(f))).toEqual([]);
});
