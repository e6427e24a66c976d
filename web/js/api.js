// api.js — the JSON HTTP API under /api/v1/: the session's CSRF token on
// every request that changes something, problems (RFC 9457) as ApiError.

let csrfToken = null;
let onUnauthorized = () => {};

export function setCsrfToken(token) {
  csrfToken = token;
}

/** Called when the session has ended (401 on anything but the login). */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.code = problem ? problem.code : null;
    this.problem = problem;
    this.retryAfter = retryAfter ? Number(retryAfter) : null;
  }
}

function url(path, query) {
  const u = new URL(path.startsWith('/') ? path : `/api/v1/${path}`, location.origin);
  if (query) {
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, String(v));
    }
  }
  return u.pathname + u.search;
}

/**
 * api('GET', 'companies', {query: {q}}) → the parsed JSON (null for 204).
 * json: a body sent as JSON; form: a FormData sent as multipart/form-data.
 */
export async function api(method, path, { query, json, form, signal } = {}) {
  const headers = { Accept: 'application/json' };
  let body;
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form) {
    body = form; // the browser sets the multipart boundary
  }
  let res;
  try {
    res = await fetch(url(path, query), { method, headers, body, credentials: 'same-origin', signal });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, { code: 'network', detail: err.message });
  }
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await res.json().catch(() => null) : null;
  if (!res.ok) {
    const err = new ApiError(res.status, data, res.headers.get('Retry-After'));
    if (res.status === 401 && path !== 'session') onUnauthorized(err);
    throw err;
  }
  return data;
}

export const get = (path, query, opts = {}) => api('GET', path, { ...opts, query });
export const post = (path, json) => api('POST', path, { json });
export const patch = (path, json) => api('PATCH', path, { json });
export const del = (path, query) => api('DELETE', path, { query });
