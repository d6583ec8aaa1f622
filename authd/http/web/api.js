// The page's only way to the API: keeps the session token in sessionStorage,
// sends it as a Bearer header (never in a URL), and turns the API's error shape
// ({"errors":[{"code","message","detail"}]}) into an ApiError.

const TOKEN_KEY = 'authd.token';
const ACCOUNT_KEY = 'authd.account';

export class ApiError extends Error {
  constructor(status, body, fallback) {
    const first = (body && Array.isArray(body.errors) && body.errors[0]) || {};
    super(first.message || fallback || `authd answered ${status}`);
    this.status = status;
    this.code = first.code || '';
    this.detail = first.detail || {};
    this.field = this.detail.field || null;
  }
}

// Path segments are escaped, so names with odd characters stay one segment.
export function path(strings, ...values) {
  return strings.reduce((out, s, i) => out + s + (i < values.length ? encodeURIComponent(values[i]) : ''), '');
}

export function session() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const account = sessionStorage.getItem(ACCOUNT_KEY);
  return token ? { token, account: account ? JSON.parse(account) : null } : null;
}

export function rememberAccount(account) {
  sessionStorage.setItem(ACCOUNT_KEY, JSON.stringify(account));
}

function forget() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ACCOUNT_KEY);
}

// A 401 that names the Bearer scheme means the token itself is gone (expired,
// revoked, password changed elsewhere); any other 401 is an answer to the call.
function sessionEnded(res) {
  return res.status === 401 && /^Bearer/i.test(res.headers.get('WWW-Authenticate') || '');
}

async function errorOf(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    // not JSON (a proxy's page, say): the status alone must do
  }
  return new ApiError(res.status, body);
}

// as: 'json' (default), 'text' or 'blob'. Returns null for 204.
export async function request(method, url, { body, query, as = 'json' } = {}) {
  const target = new URL(url, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') target.searchParams.set(k, String(v));
  }
  const headers = { Accept: as === 'json' ? 'application/json' : '*/*' };
  const s = session();
  if (s) headers.Authorization = `Bearer ${s.token}`;
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(target, { method, headers, body: payload, cache: 'no-store', credentials: 'omit' });
  } catch (e) {
    throw new ApiError(0, null, `cannot reach authd (${e.message})`);
  }
  if (!res.ok) {
    const err = await errorOf(res);
    if (s && sessionEnded(res)) {
      forget();
      window.dispatchEvent(new CustomEvent('authd:session-ended', { detail: err.message }));
    }
    throw err;
  }
  if (res.status === 204) return null;
  if (as === 'text') return res.text();
  if (as === 'blob') return { blob: await res.blob(), headers: res.headers };
  return res.json();
}

export const get = (url, query) => request('GET', url, { query });
export const post = (url, body, query) => request('POST', url, { body, query });
export const put = (url, body) => request('PUT', url, { body });
export const patch = (url, body) => request('PATCH', url, { body });
export const del = (url) => request('DELETE', url);

export async function login(username, password) {
  forget();
  const answer = await post('/auth/login', { username, password });
  sessionStorage.setItem(TOKEN_KEY, answer.auth_token);
  rememberAccount(answer.account);
  return answer.account;
}

export async function logout() {
  try {
    if (session()) await post('/auth/logout');
  } finally {
    forget();
  }
}
