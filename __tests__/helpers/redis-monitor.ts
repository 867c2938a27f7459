/**
 * MONITOR on its own connection, to count the commands one named client sends while some work runs —
 * a count that machine load cannot move (unlike INFO's server-wide total, which includes every
 * background round of every other connection). Windows are delimited by ECHO markers: Redis runs
 * commands one at a time and MONITOR reports them in that order, so a command the work awaited is
 * reported before the closing marker.
 */
import { createConnection, type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { waitUntil, type AdminLike } from './redis-admin';

export interface MonitoredCommand {
  /** `ip:port` of the connection that sent it. */
  addr: string;
  args: string[];
}

/** `addr` of the connection named `name` (CLIENT SETNAME / the client's `name` option). */
export async function clientAddr(admin: AdminLike, name: string): Promise<string> {
  const list = String(await admin.sendCommand(['CLIENT', 'LIST', 'TYPE', 'normal']));
  const found = list.split('\n').map((line) => Object.fromEntries(line.trim().split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])))
    .filter((c) => c.name === name);
  if (found.length !== 1) throw new Error(`expected one connection named ${name}, found ${found.length}`);
  return String(found[0]?.addr);
}

const LINE = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] (.*)$/;
const ARG = /"((?:[^"\\]|\\.)*)"/g;

function parse(line: string): MonitoredCommand | null {
  const m = LINE.exec(line);
  if (m === null) return null;
  return { addr: m[1] as string, args: [...(m[2] as string).matchAll(ARG)].map((a) => a[1] as string) };
}

/**
 * The commands the connection at `addr` sent while `work` ran, seen by a MONITOR connection opened for
 * this window only (so a server restarted between windows is no concern).
 */
export async function commandsOf(url: string, admin: AdminLike, addr: string, work: () => Promise<unknown>): Promise<MonitoredCommand[]> {
  const { hostname, port } = new URL(url);
  const socket: Socket = createConnection({ host: hostname, port: Number(port) });
  const seen: MonitoredCommand[] = [];
  let pending = '';
  let ok = false;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    pending += chunk;
    let end: number;
    while ((end = pending.indexOf('\r\n')) >= 0) {
      const line = pending.slice(0, end);
      pending = pending.slice(end + 2);
      if (line === '+OK') ok = true;
      const cmd = parse(line);
      if (cmd !== null) seen.push(cmd);
    }
  });
  socket.on('error', () => { /* reported by the marker's timeout */ });
  try {
    socket.write('MONITOR\r\n');
    await waitUntil(() => ok, 10_000, 'MONITOR to start');
    /** Index in `seen` just past an ECHO marker sent now through `admin`. */
    const mark = async (): Promise<number> => {
      const marker = `monitor-mark-${randomUUID()}`;
      await admin.sendCommand(['ECHO', marker]);
      let at = -1;
      await waitUntil(() => (at = seen.findIndex((c) => c.args[0] === 'ECHO' && c.args[1] === marker)) >= 0, 10_000, 'the MONITOR marker');
      return at + 1;
    };
    const from = await mark();
    await work();
    const to = await mark();
    return seen.slice(from, to - 1).filter((c) => c.addr === addr);
  } finally {
    socket.destroy();
  }
}
