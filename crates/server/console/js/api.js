// The API client: same-origin fetch with the session cookie, JSON in and out, problem details
// (RFC 9457) turned into ApiError. A 401 means the session ended: back to the login form.

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.type = problem && problem.type;
    this.detail = problem && problem.detail;
    this.errors = (problem && problem.errors) || [];
  }
}

async function request(method, path, body) {
  const opts = {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
  };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  if (resp.status === 401) {
    const next = location.pathname;
    location.assign(`/login?next=${encodeURIComponent(next)}`);
    throw new ApiError(401, { detail: 'Signed out' });
  }
  const type = resp.headers.get('content-type') || '';
  const data = type.includes('json') ? await resp.json().catch(() => null) : await resp.text();
  if (!resp.ok) throw new ApiError(resp.status, typeof data === 'object' ? data : { detail: data });
  return data;
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body ?? {});
export const put = (path, body) => request('PUT', path, body);

/** Like get, but null on 404 (an endpoint this server does not have yet). */
export async function optional(path) {
  try {
    return await get(path);
  } catch (e) {
    if (e.status === 404) return null;
    throw e;
  }
}

/** Who is signed in: {key_id, role, customer_id}. */
let me;
export async function whoami() {
  if (!me) me = await get('/v1/me');
  return me;
}

export const enc = encodeURIComponent;
