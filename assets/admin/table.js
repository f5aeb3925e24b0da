// Browsing one type: a page of a table view (getObjectListTable), or of a query
// (getObjectListByFilter), with chosen columns, sorting, filters, paging and CSV export.
// Everything the view shows is in the URL, so it can be bookmarked and shared.

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
    page: Math.max(1, Number(params.get('page')) || 1),
    size: SIZES.includes(Number(params.get('size'))) ? Number(params.get('size')) : 50,
  };
}

function link(view, change) {
  const v = { ...view, ...change };
  return href('t', v.type, {
    q: v.q,
    cols: v.cols ? v.cols.join(',') : '',
    sort: v.sort,
    f: Object.keys(v.filter).length ? JSON.stringify(v.filter) : '',
    page: v.page > 1 ? v.page : '',
    size: v.size !== 50 ? v.size : '',
  });
}

/// The request of a view: endpoint and parameters (CSV export sends the same with format=csv).
function request(view, columns) {
  const paging = { offset: (view.page - 1) * view.size, limit: view.size };
  const properties = columns.length ? columns : undefined;
  if (view.q.trim()) {
    const tail = view.sort ? ` order by ${view.sort}` : '';
    return ['getObjectListByFilter', { objectType: view.type, query: view.q.trim() + tail, properties, ...paging }];
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
    return get(endpoint, p);
  }, [key, !!cfg.data, !!cfg.error]);

  const found = new Set(declared);
  for (const obj of (page.data && page.data.data) || [])
    for (const k of Object.keys(obj)) if (!SYSTEM_FIELDS.includes(k) && !k.includes('@') && k !== 'strict') found.add(k);
  const shown = columns.length ? columns : [...found].slice(0, 8);

  const total = page.data ? page.data.total : null;
  const rows = (page.data && page.data.data) || [];
  const last = total ? Math.max(1, Math.ceil(total / view.size)) : 1;
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
      <span class="muted" aria-live="polite">${total === null ? '' : `${number(total)} object${total === 1 ? '' : 's'}`}</span>
      <span class="spacer"></span>
      <a class="button" href=${href('new', type)}>New ${type}</a>
    </div>
    <${QueryBox} view=${view} error=${page.error && page.error.code === 'QUERY_SYNTAX' ? page.error : null} />
    <${Filters} view=${view} properties=${[...found]} />
    <${Columns} view=${view} properties=${[...found]} shown=${shown} />
    ${page.error && page.error.code !== 'QUERY_SYNTAX' ? html`<${ErrorBox} error=${page.error} />` : null}
    <${ErrorBox} error=${cfg.error} />
    <div class="table-tools">
      <${Pager} view=${view} last=${last} total=${total} />
      <span class="spacer"></span>
      <${Loading} busy=${page.busy} />
      <button type="button" onClick=${exportCsv} disabled=${exporting || !rows.length}>Export CSV (this page)</button>
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

function QueryBox({ view, error }) {
  const [text, setText] = useState(view.q);
  const input = useRef(null);
  useEffect(() => setText(view.q), [view.q]);
  // The error's position: the caret goes there.
  const position = error && Number.isInteger(error.details.position) ? error.details.position : null;
  useEffect(() => {
    if (position !== null && input.current) {
      input.current.focus();
      input.current.setSelectionRange(position, Math.min(position + 1, text.length));
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
    go(link(view, { q: text, page: 1 }));
  };
  const expected = error && error.details.expected;
  return html`<form class="query" onSubmit=${submit} role="search">
    <label for="query">Query <span class="muted">(press / to jump here)</span></label>
    <div class="query-row">
      <input id="query" ref=${input} value=${text} onInput=${(e) => setText(e.target.value)}
        placeholder='e.g. age > 30 and lastName startswith "D"' spellcheck="false" autocomplete="off"
        aria-invalid=${error ? 'true' : 'false'} aria-describedby=${error ? 'query-error' : undefined} />
      <button type="submit">Run</button>
      ${view.q ? html`<a class="button secondary" href=${link(view, { q: '', page: 1 })}>Clear</a>` : null}
    </div>
    ${error
      ? html`<div class="error query-error" id="query-error" role="alert">
          <strong>${error.plain}</strong>
          ${position !== null
            ? html`<pre class="caret" aria-label=${`at character ${position + 1}`}>${`${view.q}\n${' '.repeat(Math.min(position, view.q.length))}^ character ${position + 1}`}</pre>`
            : null}
          ${expected ? html`<span>Expected: ${Array.isArray(expected) ? expected.join(', ') : expected}</span>` : null}
        </div>`
      : null}
  </form>`;
}

function Filters({ view, properties }) {
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const entries = Object.entries(view.filter);
  const disabled = !!view.q;
  const add = (e) => {
    e.preventDefault();
    if (!name) return;
    go(link(view, { filter: { ...view.filter, [name]: value }, page: 1 }));
    setValue('');
  };
  const remove = (k) => {
    const f = { ...view.filter };
    delete f[k];
    return link(view, { filter: f, page: 1 });
  };
  return html`<details class="filters" open=${entries.length > 0}>
    <summary>Filters${entries.length ? ` (${entries.length})` : ''}</summary>
    ${disabled ? html`<p class="muted">Filters apply when the query box is empty; write conditions into the query instead.</p>` : null}
    <ul class="chips">
      ${entries.map(
        ([k, v]) => html`<li key=${k}>${k} = ${String(v)} <a href=${remove(k)} aria-label=${`Remove the filter on ${k}`}>×</a></li>`,
      )}
    </ul>
    <form class="inline-form" onSubmit=${add}>
      <label for="filter-name">Property</label>
      <select id="filter-name" value=${name} onChange=${(e) => setName(e.target.value)} disabled=${disabled}>
        <option value="">choose…</option>
        ${properties.map((p) => html`<option key=${p} value=${p}>${p}</option>`)}
      </select>
      <label for="filter-value">equals</label>
      <input id="filter-value" value=${value} onInput=${(e) => setValue(e.target.value)} disabled=${disabled} />
      <button type="submit" disabled=${disabled || !name}>Add filter</button>
    </form>
  </details>`;
}

function Columns({ view, properties, shown }) {
  const [extra, setExtra] = useState('');
  const all = [...new Set([...properties, ...shown])];
  const toggle = (p) => {
    const next = shown.includes(p) ? shown.filter((c) => c !== p) : [...shown, p];
    go(link(view, { cols: next.length ? next : ['objectNumber'] }));
  };
  const add = (e) => {
    e.preventDefault();
    const p = extra.trim();
    if (p && !shown.includes(p)) go(link(view, { cols: [...shown, p] }));
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

function Pager({ view, last, total }) {
  const from = total ? (view.page - 1) * view.size + 1 : 0;
  const to = total ? Math.min(total, view.page * view.size) : 0;
  const sizeChange = (e) => go(link(view, { size: Number(e.target.value), page: 1 }));
  const pageLink = (n, label, disabled) =>
    disabled
      ? html`<span class="button secondary small" aria-disabled="true">${label}</span>`
      : html`<a class="button secondary small" href=${link(view, { page: n })}>${label}</a>`;
  return html`<nav class="pager" aria-label="Pages">
    ${pageLink(1, 'First', view.page <= 1)}
    ${pageLink(view.page - 1, 'Previous', view.page <= 1)}
    <span class="muted">${total === null ? '' : `${number(from)}–${number(to)} of ${number(total)}`}</span>
    ${pageLink(view.page + 1, 'Next', view.page >= last)}
    ${pageLink(last, 'Last', view.page >= last)}
    <label class="sr-only" for="page-size">Rows per page</label>
    <select id="page-size" value=${view.size} onChange=${sizeChange}>
      ${SIZES.map((s) => html`<option key=${s} value=${s}>${s} a page</option>`)}
    </select>
  </nav>`;
}
