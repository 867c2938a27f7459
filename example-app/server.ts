/**
 * `npm run example`: starts the example app on http://127.0.0.1:3000 (PORT / HOST change it).
 * Strategy and storage come from AUTH_STRATEGY / AUTH_STORAGE (see README.md next to this file).
 */
import { createExampleApp } from './app';
import { DEFAULT_REDIS_URL, shownUrl } from './redis';

async function main(): Promise<void> {
  let example;
  if (process.env.AUTH_STORAGE === 'redis') console.log(`example-app: connecting to Redis at ${shownUrl(process.env.REDIS_URL || DEFAULT_REDIS_URL)}`);
  try {
    example = await createExampleApp(process.env);
  } catch (err) {
    // One line, then exit: an impossible strategy/storage pair must never half-start.
    console.error(`example-app: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  const { app, settings, warnings, close } = example;
  const port = Number(process.env.PORT || 3000);
  const host = process.env.HOST || '127.0.0.1';
  for (const w of warnings) console.warn(`warning: ${w}`);
  const server = app.listen(port, host, () => {
    const shown = host.includes(':') ? `[${host}]` : host;
    console.log(`express-principal example: ${settings.strategy} on ${settings.storage} storage — open http://${shown}:${port}/`);
  });
  server.on('error', (err) => {
    console.error(`example-app: cannot listen on ${host}:${port} (${err.message})`);
    process.exit(1);
  });
  const stop = () => {
    server.close();
    void close().finally(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

void main();
