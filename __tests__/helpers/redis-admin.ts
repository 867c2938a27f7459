/** Small admin-side helpers for tests that watch a Redis server's own view (connections, polling). */

/** Any node-redis client (test helper clients and createClient() ones have different generic types). */
export interface AdminLike { sendCommand(args: string[]): Promise<unknown> }

/** Connections named `name` (CLIENT LIST through `admin`): their CLIENT ID and last command. */
export async function clientIds(admin: AdminLike, name: string): Promise<{ id: string; cmd: string }[]> {
  const list = String(await admin.sendCommand(['CLIENT', 'LIST', 'TYPE', 'normal']));
  return list.split('\n').map((line) => Object.fromEntries(line.trim().split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])))
    .filter((c) => c.name === name).map((c) => ({ id: String(c.id), cmd: String(c.cmd) }));
}

/** Polls `check` every 10 ms until it holds, or throws after `timeoutMs` naming `what`. */
export async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
