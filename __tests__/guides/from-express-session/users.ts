/** What the before and after apps of docs/guides/from-express-session.md share: their users and their one page. */
export const USERS = [{ id: 'alice', password: 'wonderland', roles: ['admin'] }];

export function page(userId: string | null, error?: string): string {
  const body = userId === null
    ? `<form method="post" action="/login"><input name="username" aria-label="username"><input name="password" type="password" aria-label="password"><button>Log in</button></form>`
    : `<p id="who">Logged in as ${userId}</p><form method="post" action="/logout"><button>Log out</button></form>`;
  return `<!doctype html><title>shop</title>${error ? `<p role="alert">${error}</p>` : ''}${body}`;
}
