// The first page: every object type with its count (loaded lazily, a few at a time) and a
// chart of objects per type.

import { useEffect, useState } from './vendor/hooks.mjs';
import { config, get } from './api.js';
import { Empty, ErrorBox, Loading, go, href, html, number, useAsync } from './ui.js';

const OPENED = 'datastore.console.types';

/// Types opened by name this session (open schema mode: types the DSConfig does not declare).
export function rememberType(type) {
  const known = openedTypes();
  if (!known.includes(type)) sessionStorage.setItem(OPENED, JSON.stringify([...known, type]));
}

function openedTypes() {
  try {
    return JSON.parse(sessionStorage.getItem(OPENED)) || [];
  } catch {
    return [];
  }
}

/// The count of one type: one table-view request with a one-row page, X-Total-Count.
async function countOf(type) {
  const r = await get('getObjectListTable', { objectType: type, limit: 1 });
  return r.total;
}

export function TypesPage() {
  const cfg = useAsync(() => config(true), []);
  // The types that have objects, declared or not (one index seek per type on the server).
  const inData = useAsync(() => get('getObjectTypes').then((r) => r.data), []);
  const [counts, setCounts] = useState({});
  const declared = cfg.data ? Object.keys(cfg.data.types || {}) : [];
  const ready = !!cfg.data && !inData.busy;
  const types = ready
    ? [...new Set([...declared, ...(inData.data || []), ...openedTypes()])].sort((a, b) => a.localeCompare(b))
    : [];

  // Counts one after another, two at a time: the page shows at once, numbers fill in.
  useEffect(() => {
    if (!ready) return undefined;
    let live = true;
    const queue = [...types];
    const worker = async () => {
      while (live && queue.length) {
        const type = queue.shift();
        try {
          const n = await countOf(type);
          if (live) setCounts((c) => ({ ...c, [type]: n }));
        } catch (e) {
          if (live) setCounts((c) => ({ ...c, [type]: e }));
        }
      }
    };
    worker();
    worker();
    return () => {
      live = false;
    };
  }, [ready]);

  const [name, setName] = useState('');
  const open = (e) => {
    e.preventDefault();
    const t = name.trim();
    if (!t) return;
    rememberType(t);
    go(href('t', t));
  };

  const [objectId, setObjectId] = useState('');
  const idOf = () => (/^\d+$/.test(objectId.trim()) ? objectId.trim() : null);
  const openObject = (e) => {
    e.preventDefault();
    if (idOf()) go(href('o', idOf()));
  };
  const openHistory = () => idOf() && go(href('h', idOf()));

  return html`<section aria-labelledby="types-title">
    <div class="page-head">
      <h1 id="types-title">Object types</h1>
      ${cfg.data ? html`<span class="muted">DSConfig version ${cfg.data.version ?? '–'}, schema ${cfg.data.schemaMode}</span>` : null}
    </div>
    <${ErrorBox} error=${cfg.error || inData.error} />
    <${Loading} busy=${cfg.busy || inData.busy} label="Loading the types" />
    ${ready && types.length === 0
      ? html`<${Empty} title="No object types yet">
          <p>The DSConfig declares none and there are no objects. Open a type by its name below (in open schema mode any name
          works), or declare types in the <a href=${href('config')}>DSConfig</a>.</p>
        <//>`
      : null}
    ${types.length
      ? html`<div class="types-layout">
          <table class="grid types" aria-describedby="types-title">
            <thead><tr><th scope="col">Type</th><th scope="col" class="num">Objects</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>
              ${types.map(
                (t) => html`<tr key=${t}>
                  <th scope="row"><a href=${href('t', t)}>${t}</a>${cfg.data && !declared.includes(t)
                    ? html` <span class="badge" title="The DSConfig does not declare this type; objects of it exist">not in DSConfig</span>`
                    : null}</th>
                  <td class="num" data-type=${t}>${countCell(counts[t])}</td>
                  <td><a class="button small" href=${href('new', t)}>New</a></td>
                </tr>`,
              )}
            </tbody>
          </table>
          <${Chart} types=${types} counts=${counts} />
        </div>`
      : null}
    <form class="inline-form" onSubmit=${open}>
      <label for="open-type">Open a type by name</label>
      <input id="open-type" value=${name} onInput=${(e) => setName(e.target.value)} placeholder="e.g. Person" autocomplete="off" />
      <button type="submit">Open</button>
    </form>
    <form class="inline-form" onSubmit=${openObject}>
      <label for="open-object">Open an object by id</label>
      <input id="open-object" inputmode="numeric" value=${objectId} onInput=${(e) => setObjectId(e.target.value)} size="10" autocomplete="off" />
      <button type="submit">Open</button>
      <button type="button" class="secondary" onClick=${openHistory}>History</button>
      <span class="muted">(the history works for deleted objects too)</span>
    </form>
  </section>`;
}

function countCell(c) {
  if (c === undefined) return html`<span class="muted" aria-label="counting">…</span>`;
  if (c instanceof Error) return html`<span class="bad" title=${c.plain}>?</span>`;
  return number(c);
}

/// Objects per type, as horizontal bars (SVG; no style attributes: the CSP allows none).
function Chart({ types, counts }) {
  const known = types.filter((t) => typeof counts[t] === 'number');
  if (!known.length) return html`<figure class="chart"><figcaption>Objects per type</figcaption><p class="muted">Counting…</p></figure>`;
  const max = Math.max(1, ...known.map((t) => counts[t]));
  const row = 22;
  const labelWidth = 120;
  const width = 360;
  return html`<figure class="chart">
    <figcaption>Objects per type</figcaption>
    <svg viewBox=${`0 0 ${width} ${types.length * row}`} role="img" aria-label="Objects per type" preserveAspectRatio="xMinYMin meet">
      ${types.map((t, i) => {
        const n = typeof counts[t] === 'number' ? counts[t] : 0;
        const w = Math.max(n ? 2 : 0, ((width - labelWidth - 70) * n) / max);
        return html`<g key=${t} transform=${`translate(0 ${i * row})`}>
          <text x=${labelWidth - 6} y="15" text-anchor="end" class="chart-label">${t.length > 16 ? t.slice(0, 15) + '…' : t}</text>
          <rect x=${labelWidth} y="4" width=${w} height="14" rx="2" class="chart-bar" />
          <text x=${labelWidth + w + 6} y="15" class="chart-value">${typeof counts[t] === 'number' ? number(n) : '…'}</text>
        </g>`;
      })}
    </svg>
  </figure>`;
}
