/**
 * Issue 14 (types without casts): the example app reads `req.principal` the way the README tells users to, so its
 * source has no type assertion (`x as T`, `<T>x`) and no non-null assertion (`x!`). `as const` is not an assertion
 * about a value's type and is allowed. Parsed with the TypeScript compiler, so comments and strings never count.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(__dirname, '..', '..');

function* sources(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sources(path);
    else if (name.endsWith('.ts')) yield path;
  }
}

function casts(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    const isConst = (ts.isAsExpression(node) || ts.isTypeAssertionExpression(node)) && node.type.getText(source) === 'const';
    if ((ts.isAsExpression(node) || ts.isTypeAssertionExpression(node) || ts.isNonNullExpression(node)) && !isConst) {
      const { line } = source.getLineAndCharacterOfPosition(node.getStart(source));
      found.push(`${relative(root, file)}:${line + 1}: ${node.getText(source)}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

test('example-app/ has no type or non-null assertion', () => {
  const files = [...sources(join(root, 'example-app'))];
  expect(files.length).toBeGreaterThan(3);
  expect(files.flatMap(casts)).toEqual([]);
});
