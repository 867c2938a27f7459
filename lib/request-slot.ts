import { IncomingMessage } from 'node:http';
import type { Request, Response } from 'express';
import type { AuthContext } from './context';
import type { Principal } from './types';
import { warnReplacedBefore } from './foreign-auth';

// Where `req.principal` and `req.auth` live.
//
// Why not plain own properties: Express moves every request onto the app's request prototype
// (Object.setPrototypeOf), after which V8 no longer shares hidden classes between requests, so each property added
// to `req` builds a new hidden class on every request. Two such writes measured ≈ 8 % of plain Express's whole
// request cost (bench, 2-core VM). Instead, principal() installs `principal` / `auth` accessors on Express's
// shared request prototype (`express.request`, its documented extension point; never on Node's IncomingMessage),
// at construction for the express it resolves to, or with the first request for another copy of express,
// and the values sit in `res.locals`, the per-request dictionary Express already creates, under a symbol (not a
// string key, so templates that render `res.locals` never see it). A request that did not come through Express
// (no app prototype or no `res.locals`) gets plain own properties. Consequences, documented in the README:
// replacing `res.locals` wholesale after principal() drops them (guards then fail closed), and
// `delete req.principal` does nothing.

// Registered symbols, shared by every copy of this package in the process (npm can install two, e.g. one under a
// library the app uses): whichever copy installed the accessors then reads the slot any copy wrote. With symbols of
// its own, a second copy would redefine the accessors and the first copy's requests would read nothing. The suffix
// changes if the shape of Slot or of the public AuthContext ever does. What guards trust stays per copy (INTERNALS,
// lib/context.ts): a guard behind the other copy's middleware finds no verdict of its own and fails closed.
const SLOT: unique symbol = Symbol.for('express-principal.request.v1');
const ACCESSORS: unique symbol = Symbol.for('express-principal.accessors.v1');

/**
 * Per-request values, kept in `res.locals[SLOT]`: `principal` and `auth` are read by every copy of the package.
 * `own` is the `req.auth` principal() attached; assigning `req.auth` (express-jwt does, by default) changes `auth`
 * only, so guards keep their verdict. A slot written by an older copy has no `own`: readers fall back to `auth`.
 */
export class Slot {
  principal: Principal | null = null;
  readonly own: AuthContext | undefined;
  constructor(public auth: AuthContext | undefined) {
    this.own = auth;
  }
}

type Locals = Record<PropertyKey, unknown>;
interface Carrier { res?: { locals?: Locals } }

/** This request's slot, without going through the accessors (guards read it on every request). */
export function slotOf(self: Carrier | Request): Slot | undefined {
  return slotIn((self as Carrier).res);
}

/** The slot of the request `res` answers: for code that holds `res` already, one property read fewer than `req.res`. */
export function slotIn(res: Carrier['res'] | Response): Slot | undefined {
  const value = (res as Carrier['res'])?.locals?.[SLOT];
  // Not `instanceof Slot`: another copy of the package may have written it.
  return typeof value === 'object' && value !== null ? (value as Slot) : undefined;
}

/** The `req.auth` principal() attached to this request, whatever was assigned to `req.auth` since (undefined: none). */
export function ownAuth(req: Request, slot: Slot | undefined = slotOf(req)): unknown {
  return slot === undefined ? (req as { auth?: unknown }).auth : (slot.own ?? slot.auth);
}

/** Assigning `req.principal` / `req.auth` from app code keeps working: into this request's slot. */
function setter(name: 'principal' | 'auth') {
  return function set(this: Carrier, value: unknown): void {
    const locals = this.res?.locals;
    if (locals === undefined) {
      Object.defineProperty(this, name, { value, writable: true, enumerable: true, configurable: true });
      return;
    }
    let slot = slotOf(this);
    if (slot === undefined) locals[SLOT] = slot = new Slot(undefined);
    (slot as unknown as Record<string, unknown>)[name] = value;
  };
}

const hasOwn = Object.prototype.hasOwnProperty;
/**
 * Request prototypes already checked → whether their requests must be checked for own `principal` / `auth`
 * properties: only when the accessors arrived with a request, so that other requests may already have been
 * under way (and assigned plain properties) at that moment.
 */
const known = new WeakMap<object, boolean>();
const refused = new WeakSet<object>();
/** Prototypes given the accessors before any request (prepareExpress). */
const early = new WeakSet<object>();
/** The prototype seen last: the usual case costs one comparison. */
let lastProto: object | null = null;
let lastNeedsCheck = true;

/**
 * Express's shared request prototype (`express.request`) under `req`'s app prototype(s), else the outermost app
 * prototype, else null (not an Express request). The shared one, not an app's: Express re-parents a sub-app's
 * prototype to whichever app mounted it last, so only the shared base is in every request's chain.
 */
function expressPrototype(req: Request): object | null {
  let root: object | null = null;
  for (let p = Object.getPrototypeOf(req) as object | null; p !== null; p = Object.getPrototypeOf(p) as object | null) {
    if (hasOwn.call(p, 'app')) root = p;
  }
  if (root === null) return null;
  const base = Object.getPrototypeOf(root) as object | null;
  return base !== null && isExpressRequest(base) ? base : root;
}

/** express.request defines req.header / req.get; Node's IncomingMessage.prototype is never touched. */
function isExpressRequest(proto: object): boolean {
  return proto !== IncomingMessage.prototype && hasOwn.call(proto, 'header') && hasOwn.call(proto, 'get');
}

/** Defines the accessors on `target` once; true when this call defined them. */
function define(target: object): boolean {
  if (hasOwn.call(target, ACCESSORS)) return false;
  Object.defineProperties(target, {
    principal: { configurable: true, enumerable: false, get(this: Carrier) { return slotOf(this)?.principal; }, set: setter('principal') },
    auth: { configurable: true, enumerable: false, get(this: Carrier) { return slotOf(this)?.auth; }, set: setter('auth') },
    [ACCESSORS]: { value: true },
  });
  return true;
}

/**
 * At principal() construction: the accessors go on the `express` this package resolves to (the app's, in a normal
 * install) before any request exists, so its requests need no own-property check. Another copy of express gets
 * them with its first request instead.
 */
export function prepareExpress(): void {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const request = (require('express') as { request?: unknown }).request;
    if (typeof request === 'object' && request !== null && isExpressRequest(request)) {
      if (define(request)) early.add(request);
    }
  } catch {
    // express not resolvable from here: first requests install instead
  }
}
function install(req: Request): boolean {
  const proto = Object.getPrototypeOf(req) as object | null;
  if (proto === null || refused.has(proto)) return false;
  let needsCheck = known.get(proto);
  if (needsCheck === undefined) {
    const target = expressPrototype(req);
    if (target === null) {
      refused.add(proto);
      return false;
    }
    define(target);
    needsCheck = !early.has(target);
    known.set(proto, needsCheck);
  }
  lastProto = proto;
  lastNeedsCheck = needsCheck;
  return true;
}

/**
 * Starts a request: `req.auth = auth`, `req.principal = null`. Returns the slot to set the principal in later,
 * or `null` when this request keeps them as own properties (then assign `req.principal`). `instance`: the
 * principal() this is, for a once-only warning when a `req.auth` set by an earlier middleware is replaced.
 */
export function attach(req: Request, res: Response, auth: AuthContext, instance: object): Slot | null {
  const locals = (res as unknown as { locals?: Locals }).locals;
  if (locals === undefined || (Object.getPrototypeOf(req) !== lastProto && !install(req))) {
    warnReplacedBefore((req as { auth?: unknown }).auth, instance);
    req.principal = null;
    req.auth = auth;
    return null;
  }
  if (lastNeedsCheck) {
    // Own properties assigned before the accessors existed (a request already under way then) would shadow them.
    if (hasOwn.call(req, 'principal')) delete (req as Partial<Request>).principal;
    if (hasOwn.call(req, 'auth')) {
      warnReplacedBefore((req as { auth?: unknown }).auth, instance);
      delete (req as Partial<Request>).auth;
    }
  }
  // A middleware before this one that assigned req.auth (into a slot of the setter's making) is about to lose it.
  const earlier = (locals[SLOT] as Slot | undefined)?.auth;
  if (earlier !== undefined) warnReplacedBefore(earlier, instance);
  const slot = new Slot(auth);
  locals[SLOT] = slot;
  return slot;
}
