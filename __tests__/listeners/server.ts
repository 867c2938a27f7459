/**
 * The app side of failing-listeners.test.ts, in its own process: inside jest's sandbox a
 * process.on('unhandledRejection' | 'uncaughtException' | 'warning') listener never fires, here it does.
 * Started with fork(…, { execArgv: ['--no-warnings', '-r', 'ts-node/register/transpile-only'] }).
 * Sends { port } over IPC once listening. Routes: /v/<variant>/{login,me,logout} (one app per variant, every
 * listener failing), GET /stats (crash counters, reports per variant), POST /selftest (one deliberate
 * unhandled rejection and one uncaught exception, so that 0 later means 0).
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { memoryStore, principal, requireAuth, sessionCookie, statelessJwt, type ListenerError, type PrincipalEvents, type Strategy } from '../../lib';
import { FAILING_EVENTS, FLAVOURS, PIPELINES, REPORTING, variantName, type Report, type Stats } from './variants';

const SECRET = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';

const stats: Stats = { unhandledRejections: 0, uncaughtExceptions: 0, errorEvents: {}, warnings: [] };
process.on('unhandledRejection', () => { stats.unhandledRejections += 1; });
process.on('uncaughtException', () => { stats.uncaughtExceptions += 1; });
process.on('warning', (w) => {
  const e = w as ListenerError;
  if (e.code === 'ERR_LISTENER_FAILED') stats.warnings.push(report(e));
});

function report(e: ListenerError): Report {
  return { event: e.event, code: e.code, cause: e.cause instanceof Error ? e.cause.message : String(e.cause) };
}

function failing(flavour: (typeof FLAVOURS)[number], message: string): () => unknown {
  if (flavour === 'throws') return () => { throw new Error(message); };
  if (flavour === 'async-throws') return async () => { throw new Error(message); };
  return () => Promise.reject(new Error(message));
}

function strategies(pipeline: (typeof PIPELINES)[number]): Strategy | Strategy[] {
  if (pipeline === 'sync') return statelessJwt({ secret: SECRET });
  const jwt = statelessJwt({ secret: SECRET, store: memoryStore() });
  return pipeline === 'async' ? jwt : [jwt, sessionCookie({ secret: SECRET, store: memoryStore(), secure: false })];
}

function variantApp(name: string, flavour: (typeof FLAVOURS)[number], pipeline: (typeof PIPELINES)[number], reporting: (typeof REPORTING)[number]): express.Router {
  const auth = principal({ strategy: strategies(pipeline) });
  for (const event of FAILING_EVENTS) auth.on(event as keyof PrincipalEvents, failing(flavour, `${name}:${event}`));
  if (reporting === 'error-event') {
    stats.errorEvents[name] = [];
    auth.on('error', (e) => { stats.errorEvents[name]?.push(report(e)); });
  }
  const app = express.Router();
  app.use(express.json());
  app.use(auth);
  app.post('/login', async (req: Request, res: Response, next: NextFunction) => {
    try { res.json(await req.auth.login({ id: 'u' })); } catch (err) { next(err); }
  });
  app.post('/logout', async (req: Request, res: Response, next: NextFunction) => {
    try { await req.auth.logout(); res.sendStatus(204); } catch (err) { next(err); }
  });
  app.get('/me', requireAuth(), (req: Request, res: Response) => { res.json({ id: req.principal?.id }); });
  app.use((err: { status?: number; code?: string }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(typeof err.status === 'number' ? err.status : 500).json({ code: err.code ?? 'ERR_INTERNAL' });
  });
  return app;
}

function main(): void {
  const root = express();
  for (const flavour of FLAVOURS) {
    for (const pipeline of PIPELINES) {
      for (const reporting of REPORTING) {
        const name = variantName(flavour, pipeline, reporting);
        root.use(`/v/${name}`, variantApp(name, flavour, pipeline, reporting));
      }
    }
  }
  root.get('/stats', (_req, res) => { res.json(stats); });
  root.post('/selftest', (_req, res) => {
    void Promise.reject(new Error('deliberate: proves the rejection counter works'));
    setImmediate(() => { throw new Error('deliberate: proves the exception counter works'); });
    res.sendStatus(204);
  });
  const server = root.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.send?.({ port: typeof address === 'object' && address !== null ? address.port : 0 });
  });
  process.on('disconnect', () => process.exit(0));
}

main();
