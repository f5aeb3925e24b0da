// Talking to the datastore API: the signed-in key, app and system; errors in plain words.
// Every URL is relative to the console ({basePath}/admin/), so it works under any base path.

const SESSION = 'datastore.console';

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION)) || null;
  } catch {
    return null;
  }
}

export function saveSession(value) {
  sessionStorage.setItem(SESSION, JSON.stringify(value));
}

export function clearSession() {
  sessionStorage.removeItem(SESSION);
}

function base(s) {
  return s.app && s.app !== 'default' ? `../apps/${encodeURIComponent(s.app)}/` : '../';
}

function headers(s, extra) {
  const h = { ...extra };
  if (s.key) h['X-Api-Key'] = s.key;
  if (s.system && s.system !== 'LIVE') h['X-Datastore-System'] = s.system;
  return h;
}

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
  // What a person reads: the API's rule in plain words, the API's own sentence otherwise.
  get plain() {
    return plainWords(this);
  }
}

/// The event a refused session key raises (on `window`): the shell signs out on it.
export const REFUSED = 'datastore:refused';

async function send(endpoint, init, explicit) {
  const s = explicit || session() || {};
  let res;
  try {
    res = await fetch(base(s) + endpoint, { ...init, headers: headers(s, init.headers) });
  } catch {
    throw new ApiError(0, 'NETWORK', 'The service did not answer. Is it running, and is the network up?');
  }
  if (!res.ok) {
    let body = null;
    try {
      body = await res.json();
    } catch {
      /* not JSON */
    }
    const e = (body && body.error) || {};
    const error = new ApiError(res.status, e.code || `HTTP_${res.status}`, e.message || res.statusText, e.details);
    // The signed-in key refused (revoked, expired, or never a key: a service that ran open
    // for a moment accepts any key at sign-in). Every page handles its own errors, so the
    // shell hears of it here, whoever asked, and goes back to the sign-in form.
    if (res.status === 401 && !explicit && s.key) dispatchEvent(new CustomEvent(REFUSED, { detail: error }));
    throw error;
  }
  return res;
}

/// POST `params` as JSON; the raw response.
export function call(endpoint, params = {}, s) {
  return send(
    endpoint,
    { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(params) },
    s,
  );
}

/// POST `params` as JSON; `{data, total, next}`: `total` from X-Total-Count and `next` (the
/// cursor of the next page) from X-Next-After, each null when the answer has none.
export async function get(endpoint, params, s) {
  const res = await call(endpoint, params, s);
  const total = res.headers.get('X-Total-Count');
  return { data: await res.json(), total: total === null ? null : Number(total), next: res.headers.get('X-Next-After') };
}

/// `GET {endpoint}` for a stream the caller reads (the live view's `events`): the response,
/// once its status is known. `extra` adds headers (`Last-Event-ID`); `signal` aborts it.
export function open(endpoint, extra, signal) {
  return send(endpoint, { method: 'GET', headers: extra, signal });
}

export async function upload(objectId, propertyName, file) {
  const form = new FormData();
  form.append('objectId', String(objectId));
  form.append('propertyName', propertyName);
  form.append('file', file, file.name);
  const res = await send('uploadFile', { method: 'POST', body: form });
  return res.json();
}

export async function fileBlob(objectId, propertyName) {
  const res = await send(
    `getFile?objectId=${encodeURIComponent(objectId)}&propertyName=${encodeURIComponent(propertyName)}`,
    { method: 'GET' },
  );
  return res.blob();
}

/// Offers `blob` to the person as a download named `name`.
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

const list = (xs) => (Array.isArray(xs) ? xs.join(', ') : String(xs ?? ''));

const WORDS = {
  NETWORK: (e) => e.message,
  UNAUTHENTICATED: () => 'This key was not accepted (unknown, revoked or expired). Sign in with another key.',
  FORBIDDEN: (e) =>
    `Your key's role${e.details.role ? ` (${e.details.role})` : ''} does not allow this` +
    `${e.details.requiredRole ? `: it needs ${e.details.requiredRole}` : ''}.`,
  TOO_MANY_REQUESTS: (e) =>
    `Too many failed keys from this address. Wait ${e.details.retryAfterSeconds || 60} seconds and try again.`,
  OBJECT_NOT_FOUND: (e) => `Object ${e.details.objectId ?? ''} does not exist (or no longer does).`,
  FILE_NOT_FOUND: () => 'No file is stored in this property.',
  STRICT_CHILDREN_EXIST: (e) =>
    `This object has strict children of type ${list(e.details.childObjectTypes)}. ` +
    'Strict children cannot be left behind: tick their types to delete them too, or remove those relationships first. Nothing was deleted.',
  REFERENCED_BY_LOOKUP: (e) =>
    `Other objects point at this one through a Lookup (${list(e.details.objectIds)}). ` +
    'Change or clear those Lookups first. Nothing was changed.',
  INVALID_VALUE: (e) =>
    e.details.propertyName
      ? `“${e.details.propertyName}” needs a valid ${e.details.propertyType || ''} value: ${e.message}.`
      : `${e.message}.`,
  UNKNOWN_OBJECT_TYPE: (e) =>
    `The DSConfig is strict and declares no type “${e.details.objectType ?? ''}”.`,
  UNKNOWN_PROPERTY: (e) =>
    `The DSConfig is strict and “${e.details.objectType ?? ''}” has no property “${e.details.propertyName ?? ''}”.`,
  INVALID_RELATIONSHIP: (e) => `That relationship is not allowed: ${e.message}.`,
  QUERY_SYNTAX: (e) => `The query is not valid: ${e.message}.`,
  TOO_LARGE: (e) =>
    `The file is too large${e.details.maxBytes ? ` (at most ${formatBytes(e.details.maxBytes)})` : ''}. Nothing was stored.`,
  UNKNOWN_LIST: (e) => `The DSConfig declares no list “${e.details.listName ?? ''}”.`,
  CONFLICT: (e) => `Someone else changed this at the same time: ${e.message}. Reload and try again.`,
  UNAVAILABLE: () => 'The database is busy or does not answer. Try again in a moment.',
  INTERNAL: () => 'The service failed. Its log says why.',
};

function plainWords(e) {
  const words = WORDS[e.code];
  return words ? words(e) : `${e.message}.`.replace(/\.\.$/, '.');
}

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

// The active DSConfig, fetched once a session (and again on demand).
let configCache = null;
export async function config(reload = false) {
  if (!configCache || reload) configCache = get('getConfig').then((r) => r.data);
  try {
    return await configCache;
  } catch (e) {
    configCache = null;
    throw e;
  }
}
export function forgetConfig() {
  configCache = null;
}

// Lists for List properties, fetched once each.
const lists = new Map();
export function listItems(name) {
  if (!lists.has(name)) {
    const p = get('getList', { listName: name }).then((r) => r.data);
    p.catch(() => lists.delete(name));
    lists.set(name, p);
  }
  return lists.get(name);
}
