// The dashboard's JSON API: reads with ETags (polling answers 304 while nothing changed),
// state-changing POSTs with the session's CSRF token, and refusals as APIError in words.

export class APIError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || `HTTP${status}`;
  }
  // words: "AccessDenied: Access is denied."
  get words() {
    return `${this.code}: ${this.message}`;
  }
}

async function reply(r) {
  let body = null;
  try {
    body = await r.json();
  } catch {
    body = null;
  }
  if (!r.ok) throw new APIError(r.status, body);
  return body;
}

// getJSON reads url; with etag, a 304 answers {notModified: true}.
export async function getJSON(url, etag) {
  const headers = {Accept: 'application/json'};
  if (etag) headers['If-None-Match'] = etag;
  const r = await fetch(url, {headers, cache: 'no-store', credentials: 'same-origin'});
  if (r.status === 304) return {notModified: true, etag};
  const body = await reply(r);
  return {body, etag: r.headers.get('ETag')};
}

let session = null;

// getSession is who the caller is, what their role allows and their CSRF token.
export async function getSession(fresh) {
  if (!session || fresh) session = (await getJSON('/ui/api/session')).body;
  return session;
}

// post sends a state-changing request. A token the server no longer knows (it restarted with a
// new secret) is fetched again once.
export async function post(url, body) {
  const send = async (s) =>
    fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      cache: 'no-store',
      headers: {'Content-Type': 'application/json', Accept: 'application/json', [s.csrfHeader]: s.csrfToken},
      body: JSON.stringify(body),
    });
  let r = await send(await getSession());
  if (r.status === 403) {
    const copy = r.clone();
    const b = await copy.json().catch(() => null);
    if (b && b.error && b.error.code === 'CSRFTokenInvalid') r = await send(await getSession(true));
  }
  return reply(r);
}

// poll reads url every interval ms and calls onData with each new body (not on a 304);
// onError gets failures, and polling goes on. It returns a function that stops it.
export function poll(url, interval, onData, onError) {
  let etag = null;
  let stopped = false;
  let timer = null;
  const tick = async () => {
    try {
      const r = await getJSON(url, etag);
      if (!r.notModified && !stopped) {
        etag = r.etag;
        onData(r.body);
      }
      if (onError) onError(null);
    } catch (e) {
      if (onError) onError(e);
    }
    if (!stopped) timer = setTimeout(tick, interval);
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
