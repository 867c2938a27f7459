import { configError } from './errors';

/** `{ admin: ['editor'], editor: ['viewer'] }`: a role implies the roles listed under it, transitively. */
export type RoleHierarchy = Readonly<Record<string, readonly string[]>>;

/** Resolved once at construction: role → every role it implies (itself included). Cycles are refused. */
export function resolveHierarchy(hierarchy: RoleHierarchy | undefined): (roles: readonly string[]) => ReadonlySet<string> {
  if (hierarchy === undefined) return (roles) => new Set(roles);
  const closure = new Map<string, Set<string>>();
  const visit = (role: string, path: string[]): Set<string> => {
    if (path.includes(role)) throw configError(`roleHierarchy has a cycle: ${[...path, role].join(' → ')}`);
    const done = closure.get(role);
    if (done) return done;
    const out = new Set([role]);
    const children = Object.hasOwn(hierarchy, role) ? hierarchy[role] : undefined;
    if (children !== undefined && !Array.isArray(children)) throw configError(`roleHierarchy.${role} must be an array of role names`);
    for (const child of children ?? []) for (const r of visit(child, [...path, role])) out.add(r);
    closure.set(role, out);
    return out;
  };
  for (const role of Object.keys(hierarchy)) visit(role, []);
  return (roles) => {
    const out = new Set<string>();
    for (const role of roles) for (const r of closure.get(role) ?? [role]) out.add(r);
    return out;
  };
}
