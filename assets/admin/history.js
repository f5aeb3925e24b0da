// An object's history (getHistory): who changed it (the key's id, never the key), when, and
// each property from → to. Loaded only when opened, a page at a time (`after` = the last
// changeId shown); works for a deleted object too (`#/h/{id}`).

import { useState } from './vendor/hooks.mjs';
import { get } from './api.js';
import { Empty, ErrorBox, Loading, href, html, useAsync } from './ui.js';

export const HISTORY_PAGE = 20;

const SYSTEM = ['objectType', 'objectNumber', 'createdAt', 'updatedAt'];

/// `2026-11-30T19:40:01.123Z` → `2026-11-30 19:40:01 UTC`.
export function when(at) {
  return at ? `${at.replace('T', ' ').replace(/\.\d+/, '').replace(/Z$/, '')} UTC` : '';
}

/// A side of a change as text; an absent side (no value before, or none after) is `—`.
function side(v, display) {
  if (display !== undefined && display !== null) return String(display);
  if (v === undefined || v === null) return null;
  if (typeof v === 'object') {
    if ('fileId' in v && 'name' in v) return v.name;
    if ('lat' in v && 'lng' in v) return `${v.lat}, ${v.lng}`;
    return JSON.stringify(v);
  }
  return String(v);
}

const OPERATIONS = {
  newObject: 'created',
  saveProperty: 'changed',
  saveProperties: 'changed',
  dropObject: 'deleted',
  changeObjectType: 'changed its type',
  saveRelationship: 'related',
  dropRelationship: 'unrelated',
  uploadFile: 'uploaded a file',
  linkFile: 'linked a file',
};

export function operationWords(op) {
  return OPERATIONS[op] || op;
}

/// One change's entries: `name: from → to`, display texts in place of ids and codes.
export function ChangeList({ changes }) {
  // Properties first, then the system fields (muted) every change touches.
  const all = Object.keys(changes || {}).filter((n) => !n.endsWith('@display'));
  const names = [...all.filter((n) => !SYSTEM.includes(n)), ...all.filter((n) => SYSTEM.includes(n))];
  if (!names.length) return html`<span class="muted">no values</span>`;
  return html`<ul class="change-list">
    ${names.map((n) => {
      const c = changes[n] || {};
      const d = changes[`${n}@display`] || {};
      const from = side(c.from, d.from);
      const to = side(c.to, d.to);
      const a = html`<span class=${from === null ? 'from muted' : 'from'}>${from === null ? '—' : from}</span>`;
      const b = html`<span class=${to === null ? 'to muted' : 'to'}>${to === null ? '—' : to}</span>`;
      return html`<li key=${n} data-property=${n} class=${SYSTEM.includes(n) ? 'system' : undefined}><span class="prop">${n}</span>: ${a} → ${b}</li>`;
    })}
  </ul>`;
}

/// The changes of object `id`, a page at a time: Older / Newer walk a stack of `after`s, so
/// only one page is ever held.
export function HistoryList({ id, version }) {
  const [afters, setAfters] = useState([0]);
  const after = afters[afters.length - 1];
  // One more than a page tells whether a next page exists.
  const page = useAsync(
    () => get('getHistory', { objectId: Number(id), after, limit: HISTORY_PAGE + 1 }).then((r) => r.data),
    [id, after, version],
  );
  const all = page.data || [];
  const rows = all.slice(0, HISTORY_PAGE);
  const more = all.length > HISTORY_PAGE;
  const first = afters.length === 1;
  return html`<div class="history">
    <${Loading} busy=${page.busy} label="Loading the history" />
    <${ErrorBox} error=${page.error} />
    ${page.data && !rows.length
      ? html`<${Empty} title=${first ? 'No changes recorded' : 'No more changes'}>
          <p>${first ? 'The change log keeps changes for a number of days (--history-days); older ones are gone.' : ''}</p>
        <//>`
      : null}
    ${rows.length
      ? html`<ol class="changes" start=${1 + (afters.length - 1) * HISTORY_PAGE}>
          ${rows.map(
            (c) => html`<li key=${c.changeId} class="change" data-change=${c.changeId}>
              <div class="change-head">
                <strong>${operationWords(c.operation)}</strong>
                <span class="muted">${when(c.at)}</span>
                <span class="muted">by ${c.keyId ? html`key <code class="key-id">${c.keyId}</code>` : 'no key (open service or CLI)'}</span>
                <span class="muted">change ${c.changeId}</span>
              </div>
              <${ChangeList} changes=${c.changes} />
            </li>`,
          )}
        </ol>`
      : null}
    ${!first || more
      ? html`<div class="pager">
          <button type="button" class="small secondary" disabled=${first} onClick=${() => setAfters(afters.slice(0, -1))}>Earlier</button>
          <button type="button" class="small secondary" disabled=${!more}
            onClick=${() => setAfters([...afters, rows[rows.length - 1].changeId])}>Later</button>
        </div>`
      : null}
  </div>`;
}

/// The history section of an object's page: nothing is asked until it is opened.
export function HistorySection({ id, version, startOpen = false }) {
  const [opened, setOpened] = useState(startOpen);
  return html`<details class="history-section" open=${startOpen} onToggle=${(e) => e.target.open && setOpened(true)}>
    <summary id="history-title">History <span class="muted">(who changed what)</span></summary>
    ${opened ? html`<${HistoryList} id=${id} version=${version} />` : null}
  </details>`;
}

/// `#/h/{id}`: the history of any object id, deleted ones included.
export function HistoryPage({ id }) {
  const obj = useAsync(() => get('getObject', { objectId: Number(id) }).then((r) => r.data), [id]);
  const gone = obj.error && obj.error.code === 'OBJECT_NOT_FOUND';
  return html`<section aria-labelledby="history-page-title">
    <div class="page-head">
      <h1 id="history-page-title">History of object #${id}</h1>
      ${obj.data ? html`<a href=${href('o', String(id))}>${obj.data.objectType} #${id}</a>` : null}
      ${gone ? html`<span class="badge strict">deleted</span>` : null}
    </div>
    ${obj.error && !gone ? html`<${ErrorBox} error=${obj.error} />` : null}
    <${HistoryList} id=${id} />
  </section>`;
}
