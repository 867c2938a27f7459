import type { Request, Response } from 'express';
import type { AuthContext } from './context';
import type { Principal } from './types';

// Where `req.principal` and `req.auth` live.
//
// Why not plain own properties: Express moves every request onto the app's request prototype
// (Object.setPrototypeOf), after which V8 no longer shares hidden classes between requests, so each property added
// to `req` builds a new hidden class on every request. Two such writes measured ≈ 8 % of plain Express's whole
// request cost (bench, 2-core VM). Instead, the first request of an app installs `principal` / `auth` accessors on
// the root app's `request` prototype (Express's documented extension point, inherited by mounted sub-apps), and
// the values sit in `res.locals`, the per-request dictionary Express already creates, under a symbol (invisible
// to templates and to `for…in`). A request that did not come through Express (no app prototype or no `res.locals`)
// gets plain own properties, as before.

const SLOT: unique symbol = Symbol('express-principal.request');
const ACCESSORS: unique symbol = Symbol('express-principal.accessors');

/** Per-request values, kept in `res.locals[SLOT]`. */
export class Slot {
  principal: Principal | null = null;
  constructor(public auth: AuthContext | undefined) {}
}

type Locals = Record<PropertyKey, unknown>;
interface Carrier { res?: { locals?: Locals } }

function slotOf(self: Carrier): Slot | undefined {
  const value = self.res?.locals?.[SLOT];
  return value instanceof Slot ? value : undefined;
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

const refused = new WeakSet<object>();

/** The outermost Express app `request` prototype in `req`'s chain (sub-apps inherit from it once mounted), if any. */
function appPrototype(req: Request): object | null {
  let root: object | null = null;
  for (let p: object | null = Object.getPrototypeOf(req) as object | null; p !== null; p = Object.getPrototypeOf(p) as object | null) {
    if (Object.prototype.hasOwnProperty.call(p, 'app')) root = p;
  }
  return root;
}

function install(req: Request): boolean {
  const proto = Object.getPrototypeOf(req) as object | null;
  if (proto === null || refused.has(proto)) return false;
  const root = appPrototype(req);
  if (root === null) {
    refused.add(proto);
    return false;
  }
  if (!Object.prototype.hasOwnProperty.call(root, ACCESSORS)) {
    Object.defineProperties(root, {
      principal: { configurable: true, enumerable: false, get(this: Carrier) { return slotOf(this)?.principal; }, set: setter('principal') },
      auth: { configurable: true, enumerable: false, get(this: Carrier) { return slotOf(this)?.auth; }, set: setter('auth') },
      [ACCESSORS]: { value: true },
    });
  }
  return true;
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Starts a request: `req.auth = auth`, `req.principal = null`. Returns the slot to set the principal in later,
 * or `null` when this request keeps them as own properties (then assign `req.principal`).
 */
export function attach(req: Request, res: Response, auth: AuthContext): Slot | null {
  const locals = (res as unknown as { locals?: Locals }).locals;
  // An own property set before the accessors existed (a request already in flight then) would shadow the slot.
  if (locals !== undefined && ((req as unknown as Record<symbol, unknown>)[ACCESSORS] === true || install(req))
    && !hasOwn.call(req, 'principal') && !hasOwn.call(req, 'auth')) {
    const slot = new Slot(auth);
    locals[SLOT] = slot;
    return slot;
  }
  req.principal = null;
  req.auth = auth;
  return null;
}
