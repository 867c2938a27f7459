/**
 * The worked example of docs/stores.md ("Your own store"), run through the published contract suite the way a
 * third-party store would: the doc's code is this fixture, character for character (but the import).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { testStateStore } from '../../lib/testing';
import { uniquePrefix } from '../helpers/redis';
import { mapStore } from '../fixtures/own-store';

testStateStore('mapStore (docs/stores.md example)', (prefix) => mapStore(prefix), { prefix: uniquePrefix });

test('docs/stores.md shows the example as it is tested', () => {
  const root = join(__dirname, '..', '..');
  const code = readFileSync(join(root, '__tests__', 'fixtures', 'own-store.ts'), 'utf8').replace("from '../../lib'", "from 'express-principal'");
  expect(readFileSync(join(root, 'docs', 'stores.md'), 'utf8')).toContain(code);
});
