/** Small server-rendered pages (admin, errors) in the same look as public/index.html. */
export function renderPage(title: string, body: string, code: string | null): string {
  const esc = title.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc}</title><link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/style.css"></head>
<body${code ? ` data-code="${code}"` : ''}><main><h1 id="page-title">${esc}</h1><section>${body}</section></main></body></html>`;
}
