// The whole client: plain fetch() calls against the example's API. No token is ever handled here:
// the credential lives in an HttpOnly cookie that the browser attaches by itself.
'use strict';
const $ = (id) => document.getElementById(id);
let settings = null;

/** With rotating refresh tokens (AUTH_REFRESH=1): asks for a new access token; the tokens travel in HttpOnly cookies. */
async function renew() {
  if (!settings || !settings.refresh) return false;
  const res = await fetch(settings.refreshPath, { method: 'POST', headers: { Accept: 'application/json' }, credentials: 'same-origin' });
  return res.ok;
}

async function api(method, path, body, renewed = false) {
  const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
  if (body !== undefined) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
  const res = await fetch(path, init);
  // An expired access token is renewed once, then the request is tried again; an ended device stays 401.
  if (res.status === 401 && !renewed && path !== '/login' && await renew()) return api(method, path, body, true);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { title: text }; }
  return { status: res.status, data };
}

function when(iso) {
  const d = new Date(iso);
  const s = Math.round((d.getTime() - Date.now()) / 1000);
  const rel = Math.abs(s) < 60 ? `${Math.abs(s)} s` : Math.abs(s) < 3600 ? `${Math.round(Math.abs(s) / 60)} min` : `${(Math.abs(s) / 3600).toFixed(1)} h`;
  return `${d.toLocaleString()} (${s > 0 ? 'in ' + rel : rel + ' ago'})`;
}

function showCookieJar() {
  $('doc-cookie').textContent = JSON.stringify(document.cookie);
  if (settings) {
    $('cookie-name').textContent = settings.cookieName;
    $('doc-cookie-note').textContent = document.cookie.includes(settings.cookieName + '=')
      ? 'the session cookie is readable from JavaScript!'
      : `— no "${settings.cookieName}" in it: the session cookie is HttpOnly, scripts cannot read it.`;
  }
}

/** Shows an outcome in a message element: `kind` is 'success' or 'error', and sets how it looks. */
function say(id, text, kind) {
  const el = $(id);
  el.textContent = text;
  el.className = kind;
  el.hidden = text === '';
}

function showLoggedOut(message, kind) {
  $('principal-panel').hidden = true;
  $('devices-panel').hidden = true;
  $('devices-list').replaceChildren();
  say('devices-result', '', 'success');
  delete document.body.dataset.devices;
  $('login-panel').hidden = false;
  $('cookie-flags').textContent = '(log in to see them)';
  say('login-error', kind === 'error' ? message : '', 'error');
  say('login-notice', kind === 'success' ? message : '', 'success');
  document.body.dataset.state = 'logged-out';
  showCookieJar();
}

// GET /api/session answers 200 with `principal: null` when nobody is logged in (no error to log for a visitor);
// the "Reload /api/me" button asks the guarded route, which answers 401 once the session has ended.
async function loadMe(path = '/api/session', renewed = false) {
  const { status, data } = await api('GET', path);
  // /api/session answers 200 for a visitor: an expired access token shows up here as `principal: null`.
  if (status === 200 && data.principal === null && !renewed && await renew()) { await loadMe(path, true); return; }
  if (status === 401 || (status === 200 && data.principal === null)) { showLoggedOut(''); return; }
  if (status !== 200) { showLoggedOut(`GET ${path} answered ${status} ${data && data.code}`, 'error'); return; }
  const p = data.principal;
  $('p-id').textContent = p.id;
  $('p-strategy').textContent = p.strategy;
  $('p-roles').innerHTML = '';
  for (const r of p.roles) { const s = document.createElement('span'); s.className = 'role'; s.textContent = r; $('p-roles').append(s); }
  $('p-session').textContent = p.sessionId || '—';
  $('p-issued').textContent = when(p.issuedAt);
  $('p-expires').textContent = when(p.expiresAt);
  $('p-authenticated').textContent = when(p.authenticatedAt);
  $('p-loaded').textContent = `${when(p.loadedAt)} — data age ${(p.dataAgeMs / 1000).toFixed(1)} s`;
  $('p-carrier').textContent = p.carrier === 'cookie' ? `cookie "${settings.cookieName}" (HttpOnly)` : 'Authorization: Bearer header';
  $('cookie-flags').textContent = data.cookie ? data.cookie.attributes.join('; ') : '(issued before this server started showing it)';
  $('login-panel').hidden = true;
  say('login-error', '', 'error');
  say('login-notice', '', 'success');
  $('principal-panel').hidden = false;
  document.body.dataset.state = 'logged-in';
  document.body.dataset.roles = p.roles.join(',');
  showCookieJar();
  await loadDevices();
}

/** "3 s ago" / "5 min ago": a device list reads at a glance; the exact time is in the title. */
function ago(iso) {
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : s < 86400 ? `${(s / 3600).toFixed(1)} h ago` : `${Math.round(s / 86400)} d ago`;
}

function deviceRow(d) {
  const li = document.createElement('li');
  li.className = 'device';
  li.dataset.handle = d.handle;
  li.dataset.current = String(d.current);
  const text = document.createElement('div');
  const name = document.createElement('div');
  const b = document.createElement('b');
  b.className = 'device-name';
  b.textContent = d.device || 'unknown device';
  name.append(b);
  if (d.current) { const mark = document.createElement('span'); mark.className = 'this-device'; mark.textContent = 'this device'; name.append(mark); }
  const meta = document.createElement('div');
  meta.className = 'device-meta';
  meta.textContent = `${d.address || 'address not kept'} · signed in ${ago(d.createdAt)} · last seen ${ago(d.lastSeenAt)}`;
  meta.title = `signed in ${new Date(d.createdAt).toLocaleString()}, last seen ${new Date(d.lastSeenAt).toLocaleString()}, expires ${new Date(d.expiresAt).toLocaleString()}`;
  text.append(name, meta);
  li.append(text);
  if (!d.current) {
    const end = document.createElement('button');
    end.type = 'button';
    end.className = 'end-session';
    end.textContent = 'End this session';
    end.addEventListener('click', () => endSession(d.handle));
    li.append(end);
  }
  return li;
}

// Strategies without server-side sessions have no list to show: the panel says what to configure instead
// (never an empty list, which would read as "no other device is logged in").
async function loadDevices() {
  const support = settings.devices;
  $('devices-panel').hidden = false;
  $('devices-unsupported').hidden = support.supported;
  $('devices-list').hidden = !support.supported;
  $('devices-actions').hidden = !support.supported;
  if (!support.supported) { $('devices-unsupported').textContent = support.howTo; document.body.dataset.devices = 'unsupported'; return; }
  const { status, data } = await api('GET', '/api/devices');
  if (status === 401) { showLoggedOut('This session was ended (from another device, or it expired).', 'error'); return; }
  if (status !== 200) { say('devices-result', `GET /api/devices answered ${status} ${data && data.code}`, 'error'); return; }
  $('devices-list').replaceChildren(...data.devices.map(deviceRow));
  $('logout-others-button').disabled = data.devices.every((d) => d.current);
  document.body.dataset.devices = String(data.devices.length);
}

async function endSession(handle) {
  const { status, data } = await api('DELETE', `/api/devices/${encodeURIComponent(handle)}`);
  if (status === 401) { showLoggedOut('This session was ended (from another device, or it expired).', 'error'); return; }
  if (status === 200) say('devices-result', 'Session ended: that device is logged out at its next request.', 'success');
  else say('devices-result', `ending the session answered ${status}: ${data && data.title}`, 'error');
  await loadDevices();
}

async function init() {
  settings = (await api('GET', '/api/config')).data;
  $('cfg-strategy').textContent = settings.strategy;
  $('cfg-storage').textContent = settings.storage;
  $('demote-explain').textContent = settings.demoteBy === 'update'
    ? 'Demote uses auth.update(subject, { roles }): the session record in the store changes, and the next request of every session of this user sees it.'
    : 'Demote re-issues the credential with fewer roles (req.auth.login): the claims travel inside the token/cookie, so the server cannot change them in place.';
  if (!settings.canRevokeAll) {
    $('logout-everywhere-button').disabled = true;
    $('logout-everywhere-button').title = 'cookie-only sessions have no server state to revoke (needs a revocation store)';
  }
  if (settings.strategy === 'session-cookie') $('bearer-explain').hidden = true;

  for (const b of document.querySelectorAll('button.fill')) {
    b.addEventListener('click', () => { $('username').value = b.dataset.user; $('password').value = b.dataset.pass; });
  }
  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const { status, data } = await api('POST', '/login', { username: $('username').value, password: $('password').value });
    say('login-notice', '', 'success');
    if (status !== 200) { say('login-error', (data && data.title) || `login failed (${status})`, 'error'); return; }
    $('password').value = '';
    await loadMe();
  });
  $('logout-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const { status, data } = await api('POST', '/logout');
    if (status !== 204) { say('action-result', `logout answered ${status} ${data && data.code}`, 'error'); return; }
    say('action-result', '', 'success');
    showLoggedOut('');
  });
  $('refresh-button').addEventListener('click', () => loadMe('/api/me'));
  $('logout-others-button').addEventListener('click', async () => {
    const { status, data } = await api('POST', '/api/devices/logout-others');
    if (status === 401) { showLoggedOut('This session was ended (from another device, or it expired).', 'error'); return; }
    if (status === 200) say('devices-result', `Logged out ${data.ended} other device(s); this one stays logged in.`, 'success');
    else say('devices-result', `log out other devices answered ${status}: ${data && data.title}`, 'error');
    await loadDevices();
  });
  $('demote-button').addEventListener('click', async () => {
    const { status, data } = await api('POST', '/api/demote');
    if (status === 200) say('action-result', `demoted by ${data.method} (${data.changed} session(s) changed); this panel is the next request:`, 'success');
    else say('action-result', `demote answered ${status} ${data && data.code}`, 'error');
    await loadMe();
  });
  $('logout-everywhere-button').addEventListener('click', async () => {
    const { status, data } = await api('POST', '/api/logout-everywhere');
    if (status !== 200) { say('action-result', `log out everywhere answered ${status}: ${data && data.title}`, 'error'); return; }
    say('action-result', '', 'success');
    showLoggedOut('Logged out everywhere: every session of this user was revoked.', 'success');
  });
  await loadMe();
}

init().catch((err) => { document.body.dataset.state = 'error'; console.error(err); });
