// Browsing one type: a page of a table view (getObjectListTable), or of a query
// (getObjectListByFilter), with chosen columns, sorting, filters, paging and CSV export.
// Everything the view shows is in the URL, so it can be bookmarked and shared.
//
// Paging walks with the API's cursor (`after`, the X-Next-After of the page before), never
// an offset, and asks rows with `count=false`: a page costs the same at object 1,000,000 as
// at the first, and never waits on a count. The total is asked separately (one request
// per view, not per page) and shown when it arrives. Previous goes back through the
// cursors of the pages before, kept for this tab.

import { useEffect, useRef, useState } from './vendor/hooks.mjs';
import { call, config, download, get } from './api.js';
import { rememberType } from './types.js';
import { Empty, ErrorBox, Loading, SYSTEM_FIELDS, cellText, go, href, html, number, useAsync } from './ui.js';

const SIZES = [25, 50, 100, 250];

function viewOf(type, params) {
  let filter = {};
  try {
    filter = JSON.parse(params.get('f') || '{}') || {};
  } catch {
    filter = {};
  }
  return {
    type,
    q: params.get('q') || '',
    cols: params.get('cols') ? params.get('cols').split(',').filter(Boolean) : null,
    sort: params.get('sort') || '',
    filter,
    after: params.get('after') || '',
    page: params.get('after') ? Math.max(2, Number(params.get('page')) || 2) : 1,
    size: SIZES.includes(Number(params.get('size'))) ? Number(params.get('size')) : 50,
  };
}

/// The view's URL after `change`; anything but a page turn starts the walk again.
function link(view, change) {
  const v = { ...view, ...change };
  if (!('after' in change)) {
    v.after = '';
    v.page = 1;
  }
  return href('t', v.type, {
    q: v.q,
    cols: v.cols ? v.cols.join(',') : '',
    sort: v.sort,
    f: Object.keys(v.filter).length ? JSON.stringify(v.filter) : '',
    size: v.size !== 50 ? v.size : '',
    page: v.after ? v.page : '',
    after: v.after,
  });
}

// The walk: the `after` of each page of one view (index 0: the first page, ''), so that
// Previous and a reload know where the pages before began. Only the current view's.
const WALK = 'datastore.console.walk';

function walkOf(view) {
  try {
    const w = JSON.parse(sessionStorage.getItem(WALK));
    if (w && w.view === walkKey(view)) return w.cursors;
  } catch {
    /* none */
  }
  return [''];
}

function remember(view, next) {
  const cursors = walkOf(view).slice(0, view.page);
  cursors[view.page - 1] = view.after;
  if (next) cursors[view.page] = next;
  sessionStorage.setItem(WALK, JSON.stringify({ view: walkKey(view), cursors }));
}

/// What identifies a walk: the view without its page.
function walkKey(view) {
  return JSON.stringify({ ...view, cols: null, after: '', page: 1 });
}

/// Where a query's tail (`order by`, `offset`, `limit`) starts, outside strings and
/// parentheses; the query's length when it has none.
export function tailStart(q) {
  let depth = 0;
  for (let i = 0; i < q.length; i++) {
    const ch = q[i];
    if (ch === '"') {
      for (i++; i < q.length && q[i] !== '"'; i++) if (q[i] === '\\') i++;
    } else if (ch === '(' || ch === '[') depth++;
    else if (ch === ')' || ch === ']') depth--;
    else if (depth === 0 && (i === 0 || /\s/.test(q[i - 1])) && /^(order\s+by\b|offset\s+\d|limit\s+\d)/i.test(q.slice(i))) {
      return i;
    }
  }
  return q.length;
}

/// A filter as a condition of the query language (values convert by the property's type,
/// as `filter` does).
function condition(name, value) {
  if (name === 'objectId' && /^\d+$/.test(String(value).trim())) return `objectId == id(${String(value).trim()})`;
  return `${name} == ${JSON.stringify(String(value))}`;
}

/// The query box and the filters as one query: `(CONDITION) and f1 == "v1" ... TAIL`, with the
/// sort's `order by` when the query has none. `user(position)` maps a position in it back
/// to the query box (null when it falls in a filter).
export function combine(q, filter, sort) {
  const text = q.trim();
  const cut = tailStart(text);
  const cond = text.slice(0, cut).trim();
  let tail = text.slice(cut).trim();
  const parts = [];
  let condAt = null;
  let length = 0;
  if (cond) {
    condAt = 1;
    parts.push(`(${cond})`);
    length = cond.length + 2;
  }
  for (const [k, v] of Object.entries(filter)) {
    const c = condition(k, v);
    length += (parts.length ? 5 : 0) + c.length;
    parts.push(c);
  }
  let query = parts.join(' and ');
  const sortTail = sort && !/^order\s+by\b/i.test(tail) ? `order by ${sort}` : '';
  if (sortTail) {
    query += (query ? ' ' : '') + sortTail;
  }
  let tailAt = null;
  if (tail) {
    query += query ? ' ' : '';
    tailAt = query.length;
    query += tail;
  }
  const tailInBox = text.length - tail.length;
  const user = (p) => {
    if (condAt !== null && p >= condAt && p <= condAt + cond.length) return Math.min(p - condAt, cond.length);
    if (tailAt !== null && p >= tailAt) return tailInBox + (p - tailAt);
    return null;
  };
  return { query, user, conditions: length };
}

/// The request of a view: endpoint and parameters (CSV export sends the same with format=csv).
/// Without a query, the table view (filters and sort as parameters); with one, the query
/// box and the filters together as one query.
function request(view, columns) {
  const paging = { limit: view.size, count: false };
  if (view.after) paging.after = view.after;
  const properties = columns.length ? columns : undefined;
  if (view.q.trim()) {
    const { query } = combine(view.q, view.filter, view.sort);
    return ['getObjectListByFilter', { objectType: view.type, query, properties, ...paging }];
  }
  const params = { objectType: view.type, properties, ...paging };
  if (Object.keys(view.filter).length) params.filter = view.filter;
  if (view.sort) params.orderBy = [view.sort];
  return ['getObjectListTable', params];
}

export function TablePage({ type, params }) {
  const view = viewOf(type, params);
  const cfg = useAsync(() => config(), []);
  const declared = cfg.data && cfg.data.types && cfg.data.types[type] ? Object.keys(cfg.data.types[type].properties || {}) : [];
  const columns = view.cols || declared.slice(0, 8);
  const key = JSON.stringify(view);
  useEffect(() => rememberType(type), [type]);

  const page = useAsync(async () => {
    if (!cfg.data && !cfg.error) return null;
    const [endpoint, p] = request(view, columns);
    const r = await get(endpoint, p);
    remember(view, r.next);
    return r;
  }, [key, !!cfg.data, !!cfg.error]);
  // The total: once per query and filters (a page turn, a sort or a page size keeps it),
  // a one-row request with the count and without the sort (an unindexed sort at 1,000,000
  // objects costs ~90 ms the count does not need).
  const counted = { ...view, sort: '', after: '', page: 1, size: 1 };
  const count = useAsync(async () => {
    if (!cfg.data && !cfg.error) return null;
    const [endpoint, p] = request(counted, columns);
    delete p.count;
    return (await get(endpoint, p)).total;
  }, [walkKey(counted), !!cfg.data, !!cfg.error]);

  const found = new Set(declared);
  for (const obj of (page.data && page.data.data) || [])
    for (const k of Object.keys(obj)) if (!SYSTEM_FIELDS.includes(k) && !k.includes('@') && k !== 'strict') found.add(k);
  const shown = columns.length ? columns : [...found].slice(0, 8);

  const total = typeof count.data === 'number' ? count.data : null;
  const rows = (page.data && page.data.data) || [];
  const next = page.data ? page.data.next : null;
  const cursors = walkOf(view);
  const previous = view.page > 1 && cursors[view.page - 2] !== undefined ? cursors[view.page - 2] : null;
  const [exporting, setExporting] = useState(false);
  const [exportError, setExportError] = useState(null);

  const exportCsv = async () => {
    setExporting(true);
    setExportError(null);
    try {
      const [endpoint, p] = request(view, shown);
      const res = await call(endpoint, { ...p, format: 'csv' });
      download(await res.blob(), `${type}-page${view.page}.csv`);
    } catch (e) {
      setExportError(e);
    } finally {
      setExporting(false);
    }
  };

  return html`<section aria-labelledby="table-title">
    <div class="page-head">
      <h1 id="table-title">${type}</h1>
      <span class="muted count" aria-live="polite">${total === null ? '' : `${number(total)} object${total === 1 ? '' : 's'}`}</span>
      <${Loading} busy=${count.busy} label="Counting" />
      <span class="spacer"></span>
      <a class="button" href=${href('new', type)}>New ${type}</a>
    </div>
    <${QueryForm} view=${view} properties=${[...found]} error=${page.error && page.error.code === 'QUERY_SYNTAX' ? page.error : null} />
    <${Columns} view=${view} properties=${[...found]} shown=${shown} />
    ${page.error && page.error.code !== 'QUERY_SYNTAX' ? html`<${ErrorBox} error=${page.error} />` : null}
    <${ErrorBox} error=${cfg.error} />
    ${count.error && !page.error ? html`<${ErrorBox} error=${count.error}><span>(counting the objects)</span><//>` : null}
    <div class="table-tools">
      <${Pager} view=${view} rows=${rows.length} total=${total} counting=${count.busy} next=${next} previous=${previous} />
      <span class="spacer"></span>
      <${Loading} busy=${page.busy} />
      <button type="button" class="export" onClick=${exportCsv} disabled=${exporting || !rows.length}>Export CSV (this page)</button>
      <${Loading} busy=${exporting} label="Exporting" />
    </div>
    <${ErrorBox} error=${exportError} />
    ${!page.busy && !page.error && page.data && rows.length === 0
      ? html`<${Empty} title=${view.q || Object.keys(view.filter).length ? 'Nothing matches' : `No ${type} objects yet`}>
          ${view.q || Object.keys(view.filter).length
            ? html`<p>Change the query or the filters, or <a href=${link(view, { q: '', filter: {}, page: 1 })}>show them all</a>.</p>`
            : html`<p><a href=${href('new', type)}>Create the first one</a>.</p>`}
        <//>`
      : null}
    ${rows.length
      ? html`<div class="table-wrap" tabindex="0" role="region" aria-label=${`${type} objects`}>
          <table class="grid">
            <thead><tr>
              <${SortHead} view=${view} name="objectId" label="id" />
              <${SortHead} view=${view} name="objectNumber" label="number" />
              ${shown.map((c) => html`<${SortHead} key=${c} view=${view} name=${c} label=${c} />`)}
              <${SortHead} view=${view} name="updatedAt" label="updated" />
            </tr></thead>
            <tbody>
              ${rows.map(
                (o) => html`<tr key=${o.objectId}>
                  <td><a href=${href('o', String(o.objectId))}>${o.objectId}</a></td>
                  <td>${o.objectNumber || ''}</td>
                  ${shown.map((c) => html`<td key=${c}>${cellText(o, c)}</td>`)}
                  <td class="muted nowrap">${(o.updatedAt || '').replace('T', ' ').replace(/\..*|Z$/, '')}</td>
                </tr>`,
              )}
            </tbody>
          </table>
        </div>`
      : null}
  </section>`;
}

function SortHead({ view, name, label }) {
  const [field, dir] = view.sort.split(/\s+/);
  const current = field === name ? (dir && dir.toUpperCase() === 'DESC' ? 'descending' : 'ascending') : 'none';
  const next = current === 'ascending' ? `${name} DESC` : current === 'descending' ? '' : name;
  return html`<th scope="col" aria-sort=${current}>
    <a class="sort" href=${link(view, { sort: next, page: 1 })} title=${`Sort by ${label}`}>
      ${label}<span aria-hidden="true" class="sort-mark">${current === 'ascending' ? ' ▲' : current === 'descending' ? ' ▼' : ''}</span>
    </a>
  </th>`;
}

/// The query box and the filter rows: one form, one query, run by Apply (or Enter), never
/// on each keystroke. A query error is shown at its character.
function QueryForm({ view, properties, error }) {
  const rowsOf = (f) => Object.entries(f).map(([name, value]) => ({ name, value: String(value) }));
  const [text, setText] = useState(view.q);
  const [rows, setRows] = useState(() => rowsOf(view.filter));
  const input = useRef(null);
  const applied = JSON.stringify([view.q, view.filter]);
  useEffect(() => {
    setText(view.q);
    setRows(rowsOf(view.filter));
  }, [applied]);
  const filterOf = (rs) => Object.fromEntries(rs.filter((r) => r.name).map((r) => [r.name, r.value]));
  const pending = JSON.stringify([text, filterOf(rows)]) !== applied;

  // The error's position, in the query box when it is there (null: in a filter).
  const combined = view.q.trim() ? combine(view.q, view.filter, view.sort) : null;
  const raw = error && Number.isInteger(error.details.position) ? error.details.position : null;
  const position = raw !== null && combined ? combined.user(raw) : raw;
  useEffect(() => {
    if (position !== null && input.current) {
      input.current.focus();
      input.current.setSelectionRange(position, Math.min(position + 1, view.q.length));
    }
  }, [error]);
  // `/` jumps to the query box, as in many consoles.
  useEffect(() => {
    const key = (e) => {
      if (e.key === '/' && !['INPUT', 'TEXTAREA', 'SELECT'].includes(document.activeElement.tagName)) {
        e.preventDefault();
        input.current && input.current.focus();
      }
    };
    addEventListener('keydown', key);
    return () => removeEventListener('keydown', key);
  }, []);
  const submit = (e) => {
    e.preventDefault();
    go(link(view, { q: text, filter: filterOf(rows), page: 1 }));
  };
  const setRow = (i, change) => setRows(rows.map((r, j) => (j === i ? { ...r, ...change } : r)));
  const expected = error && error.details.expected;
  const names = [...new Set([...properties, ...rows.map((r) => r.name).filter(Boolean), 'objectId', 'objectNumber'])];
  return html`<form class="query" onSubmit=${submit} role="search" aria-label="Query and filters">
    <label for="query">Query <span class="muted">(press / to jump here; Enter or Apply runs it with the filters)</span></label>
    <div class="query-row">
      <input id="query" ref=${input} value=${text} onInput=${(e) => setText(e.target.value)}
        placeholder='e.g. age > 30 and lastName startswith "D"' spellcheck="false" autocomplete="off"
        aria-invalid=${error && position !== null ? 'true' : 'false'} aria-describedby=${error ? 'query-error' : undefined} />
    </div>
    ${error
      ? html`<div class="error query-error" id="query-error" role="alert">
          <strong>${error.plain}</strong>
          ${position !== null
            ? html`<pre class="caret" aria-label=${`at character ${position + 1}`}>${`${view.q}\n${' '.repeat(Math.min(position, view.q.length))}^ character ${position + 1}`}</pre>`
            : raw !== null && combined
              ? html`<span>The fault is in a filter; the query the server ran:</span>
                  <pre class="caret">${`${combined.query}\n${' '.repeat(Math.min(raw, combined.query.length))}^ character ${raw + 1}`}</pre>`
              : null}
          ${expected ? html`<span>Expected: ${Array.isArray(expected) ? expected.join(', ') : expected}</span>` : null}
        </div>`
      : null}
    <fieldset class="filter-rows">
      <legend>Filters <span class="muted">(each: property equals value; all must hold, together with the query)</span></legend>
      ${rows.map(
        (r, i) => html`<div class="filter-row" key=${i}>
          <label class="sr-only" for=${`filter-name-${i}`}>Property of filter ${i + 1}</label>
          <select id=${`filter-name-${i}`} value=${r.name} onChange=${(e) => setRow(i, { name: e.target.value })}>
            <option value="">choose…</option>
            ${names.map((p) => html`<option key=${p} value=${p}>${p}</option>`)}
          </select>
          <span>equals</span>
          <label class="sr-only" for=${`filter-value-${i}`}>Value of filter ${i + 1}</label>
          <input id=${`filter-value-${i}`} value=${r.value} onInput=${(e) => setRow(i, { value: e.target.value })} autocomplete="off" />
          <button type="button" class="small secondary" onClick=${() => setRows(rows.filter((_, j) => j !== i))}
            aria-label=${`Remove filter ${i + 1}`}>Remove</button>
        </div>`,
      )}
      <div><button type="button" class="small secondary add-filter" onClick=${() => setRows([...rows, { name: '', value: '' }])}>Add a filter</button></div>
    </fieldset>
    <div class="actions">
      <button type="submit" class="apply">Apply</button>
      ${view.q || Object.keys(view.filter).length
        ? html`<a class="button secondary" href=${link(view, { q: '', filter: {}, page: 1 })}>Clear all</a>`
        : null}
      ${pending ? html`<span class="muted pending" role="status">Not applied yet</span>` : null}
    </div>
  </form>`;
}

function Columns({ view, properties, shown }) {
  const [extra, setExtra] = useState('');
  const all = [...new Set([...properties, ...shown])];
  const toggle = (p) => {
    const next = shown.includes(p) ? shown.filter((c) => c !== p) : [...shown, p];
    // Columns are not part of the walk: the page stays.
    go(link(view, { cols: next.length ? next : ['objectNumber'], after: view.after, page: view.page }));
  };
  const add = (e) => {
    e.preventDefault();
    const p = extra.trim();
    if (p && !shown.includes(p)) go(link(view, { cols: [...shown, p], after: view.after, page: view.page }));
    setExtra('');
  };
  return html`<details class="columns">
    <summary>Columns (${shown.length})</summary>
    <fieldset>
      <legend class="sr-only">Columns shown</legend>
      ${all.map(
        (p) => html`<label key=${p} class="check"><input type="checkbox" checked=${shown.includes(p)} onChange=${() => toggle(p)} /> ${p}</label>`,
      )}
    </fieldset>
    <form class="inline-form" onSubmit=${add}>
      <label for="column-name">Another property</label>
      <input id="column-name" value=${extra} onInput=${(e) => setExtra(e.target.value)} autocomplete="off" />
      <button type="submit">Add column</button>
    </form>
  </details>`;
}

function Pager({ view, rows, total, counting, next, previous }) {
  const from = rows ? (view.page - 1) * view.size + 1 : 0;
  const to = rows ? from + rows - 1 : 0;
  const sizeChange = (e) => go(link(view, { size: Number(e.target.value) }));
  const pageLink = (change, label, disabled, title) =>
    disabled
      ? html`<span class="button secondary small" aria-disabled="true">${label}</span>`
      : html`<a class="button secondary small" href=${link(view, change)} title=${title}>${label}</a>`;
  const of = total !== null ? ` of ${number(total)}` : counting ? ' of …' : '';
  return html`<nav class="pager" aria-label="Pages">
    ${pageLink({ after: '', page: 1 }, 'First', view.page <= 1)}
    ${pageLink({ after: previous || '', page: view.page - 1 }, 'Previous', view.page <= 1 || previous === null,
      previous === null && view.page > 1 ? 'The pages before this one were not walked in this tab: start from First' : undefined)}
    <span class="muted range">${rows ? `${number(from)}–${number(to)}${of}` : ''}</span>
    ${pageLink({ after: next || '', page: view.page + 1 }, 'Next', !next)}
    <label class="sr-only" for="page-size">Rows per page</label>
    <select id="page-size" value=${view.size} onChange=${sizeChange}>
      ${SIZES.map((s) => html`<option key=${s} value=${s}>${s} a page</option>`)}
    </select>
  </nav>`;
}
