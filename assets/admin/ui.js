// Shared pieces: the html tag, the router (state in the URL fragment), loading and errors.

import { h } from './vendor/preact.mjs';
import { useEffect, useRef, useState } from './vendor/hooks.mjs';
import htm from './vendor/htm.mjs';

export const html = htm.bind(h);

/// The route: `#/t/Person?q=..` → {path: ['t', 'Person'], params: URLSearchParams}.
export function parseRoute() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = hash.split('?');
  return {
    path: path.split('/').filter(Boolean).map(decodeURIComponent),
    params: new URLSearchParams(query),
  };
}

export function useRoute() {
  const [route, setRoute] = useState(parseRoute);
  useEffect(() => {
    const changed = () => setRoute(parseRoute());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

/// A fragment link: `href('t', type)` with optional params (empty ones left out).
export function href(...parts) {
  let params = null;
  if (parts.length && typeof parts[parts.length - 1] === 'object') params = parts.pop();
  let out = '#/' + parts.map((p) => encodeURIComponent(p)).join('/');
  if (params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
    const text = q.toString();
    if (text) out += '?' + text;
  }
  return out;
}

export function go(link) {
  location.hash = link.replace(/^#/, '');
}

/// True once `busy` has lasted 200 ms: quick answers show no spinner at all.
export function useDelayed(busy, ms = 200) {
  const [shown, setShown] = useState(false);
  useEffect(() => {
    if (!busy) {
      setShown(false);
      return undefined;
    }
    const t = setTimeout(() => setShown(true), ms);
    return () => clearTimeout(t);
  }, [busy]);
  return shown;
}

export function Loading({ busy, label = 'Loading' }) {
  const shown = useDelayed(busy);
  if (!shown) return null;
  return html`<span class="loading" role="status"><span class="spinner" aria-hidden="true"></span>${label}…</span>`;
}

export function ErrorBox({ error, children }) {
  const box = useRef(null);
  // An error the person cannot see is no answer: bring it into view.
  useEffect(() => {
    if (error && box.current) box.current.scrollIntoView({ block: 'nearest' });
  }, [error]);
  if (!error) return null;
  return html`<div class="error" role="alert" ref=${box}>
    <strong>${error.plain || String(error.message || error)}</strong>
    ${error.code && error.code !== 'NETWORK' ? html`<span class="code">${error.code}</span>` : null}
    ${children}
  </div>`;
}

export function Notice({ text }) {
  if (!text) return null;
  return html`<div class="notice" role="status">${text}</div>`;
}

export function Empty({ title, children }) {
  return html`<div class="empty"><p class="empty-title">${title}</p>${children}</div>`;
}

/// `useAsync(fn, deps)` → {data, error, busy, reload}.
export function useAsync(fn, deps) {
  const [state, setState] = useState({ data: undefined, error: null, busy: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, busy: true, error: null }));
    fn().then(
      (data) => live && setState({ data, error: null, busy: false }),
      (error) => live && setState({ data: undefined, error, busy: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

export const SYSTEM_FIELDS = ['objectId', 'objectType', 'objectNumber', 'createdAt', 'updatedAt'];

export function number(n) {
  return n === null || n === undefined ? '' : Number(n).toLocaleString('en');
}

/// A cell's text: display texts for Lookup and List, files by name, JSON for the rest.
export function cellText(obj, name) {
  const display = obj[`${name}@display`];
  if (display !== undefined) return String(display);
  const v = obj[name];
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') {
    if ('fileId' in v && 'name' in v) return v.name;
    if ('lat' in v && 'lng' in v) return `${v.lat}, ${v.lng}`;
    return JSON.stringify(v);
  }
  return String(v);
}

// A message that outlives one navigation ("Deleted 3 objects").
let flash = '';
export function setFlash(text) {
  flash = text;
}
export function takeFlash() {
  const text = flash;
  flash = '';
  return text;
}
