/** The strategies' suites run once per jest project (express5, express4): each must get the Express it names. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import express from 'express';

declare const EXPECTED_EXPRESS_MAJOR: string;

test('this project runs on the Express it names', () => {
  const version = (JSON.parse(readFileSync(join(dirname(require.resolve('express')), 'package.json'), 'utf8')) as { version: string }).version;
  expect(version.split('.')[0]).toBe(EXPECTED_EXPRESS_MAJOR);
  // Express 4 and 5 differ here: 5 dropped `app.del`.
  expect(typeof (express() as unknown as { del?: unknown }).del).toBe(EXPECTED_EXPRESS_MAJOR === '4' ? 'function' : 'undefined');
});
