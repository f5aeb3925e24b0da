// Live changes: `GET events` (Server-Sent Events) as they happen, optionally of some types.
// EventSource cannot send the key as a header, and the API takes keys only as headers, so
// the stream is read with fetch and a streaming reader of its body, and the SSE text is
// parsed here. After a drop it reconnects with `Last-Event-ID` (nothing missed while the log
// holds it); a `reset` event (changes pruned before they were read) is shown as a notice.
// Only the last ROWS changes are kept: a page left open for days holds no more.

import { useEffect, useState } from './vendor/hooks.mjs';
import { config, open } from './api.js';
import { operationWords, when } from './history.js';
import { Empty, ErrorBox, go, href, html, useAsync } from './ui.js';

export const ROWS = 200;

/// System fields every change touches: left out of the "Changed" column (the history has them).
const QUIET = ['createdAt', 'updatedAt', 'objectType', 'objectNumber'];

/// Splits SSE text into events; `rest` is an incomplete tail to prepend to the next chunk.
export function parseEvents(text) {
  const normal = text.replace(/\r\n?/g, '\n');
  const blocks = normal.split('\n\n');
  const rest = blocks.pop();
  const events = [];
  for (const block of blocks) {
    const e = { id: null, event: 'message', data: [], retry: null };
    let any = false;
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'id') e.id = value;
      else if (field === 'event') e.event = value;
      else if (field === 'data') e.data.push(value);
      else if (field === 'retry' && /^\d+$/.test(value)) e.retry = Number(value);
      else continue;
      any = true;
    }
    if (any) events.push({ ...e, data: e.data.join('\n') });
  }
  return { events, rest };
}

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

/// Errors after which reconnecting cannot help (the key, the role, a bad filter).
const FINAL = ['UNAUTHENTICATED', 'FORBIDDEN', 'INVALID_PARAMETER', 'UNKNOWN_PARAMETER'];

export function LivePage({ params }) {
  const types = (params.get('type') || '').split(',').map((t) => t.trim()).filter(Boolean);
  const typesKey = types.join(',');
  const cfg = useAsync(() => config(), []);
  const [rows, setRows] = useState([]);
  // The status of the stream of `typesKey` (a stream of other types is not this one).
  const [streamStatus, setStreamStatus] = useState({ key: null, status: 'connecting' });
  const status = streamStatus.key === typesKey ? streamStatus.status : 'connecting';
  const [error, setError] = useState(null);
  const [resets, setResets] = useState([]);
  const [draft, setDraft] = useState(typesKey);
  useEffect(() => setDraft(typesKey), [typesKey]);

  useEffect(() => {
    const stop = new AbortController();
    const setStatus = (value) => setStreamStatus({ key: typesKey, status: value });
    let last = null;
    let retry = 1000;
    setRows([]);
    setResets([]);
    setError(null);
    const query = types.length ? `?${types.map((t) => `objectType=${encodeURIComponent(t)}`).join('&')}` : '';
    const handle = (e) => {
      if (e.id !== null && e.id !== '') last = e.id;
      if (e.retry !== null) retry = e.retry;
      if (e.event === 'reset') {
        let d = {};
        try {
          d = JSON.parse(e.data);
        } catch {
          /* keep the notice without numbers */
        }
        setResets((r) => [...r.slice(-4), { at: new Date().toISOString(), ...d }]);
        return;
      }
      if (!e.data) return;
      try {
        const change = JSON.parse(e.data);
        setRows((r) => [change, ...r].slice(0, ROWS));
      } catch {
        /* not a change */
      }
    };
    (async () => {
      while (!stop.signal.aborted) {
        try {
          setStatus(last === null ? 'connecting' : 'reconnecting');
          const res = await open(`events${query}`, last === null ? {} : { 'Last-Event-ID': last }, stop.signal);
          setStatus('live');
          setError(null);
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = '';
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            const { events, rest } = parseEvents(buffer + value);
            buffer = rest;
            events.forEach(handle);
          }
        } catch (e) {
          if (stop.signal.aborted) return;
          setError(e);
          if (FINAL.includes(e.code)) {
            setStatus('stopped');
            if (e.code === 'UNAUTHENTICATED') throw e; // signs out (see app.js)
            return;
          }
        }
        if (stop.signal.aborted) return;
        setStatus('reconnecting');
        await sleep(retry, stop.signal);
      }
    })();
    return () => stop.abort();
  }, [typesKey]);

  const apply = (e) => {
    e.preventDefault();
    const next = draft.split(',').map((t) => t.trim()).filter(Boolean).join(',');
    go(href('live', { type: next }));
  };
  const declared = cfg.data ? Object.keys(cfg.data.types || {}).sort() : [];
  const words = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', stopped: 'Stopped' };

  return html`<section aria-labelledby="live-title">
    <div class="page-head">
      <h1 id="live-title">Live changes</h1>
      <span class=${`status status-${status}`} id="live-status" data-status=${status} role="status">${words[status]}</span>
      <span class="muted">${types.length ? `of ${types.join(', ')}` : 'of every type'} · the last ${ROWS} kept</span>
      <span class="spacer"></span>
      <button type="button" class="small secondary" onClick=${() => setRows([])} disabled=${!rows.length}>Clear</button>
    </div>
    <form class="inline-form" onSubmit=${apply}>
      <label for="live-types">Types</label>
      <input id="live-types" list="live-type-names" value=${draft} onInput=${(e) => setDraft(e.target.value)}
        placeholder="all; or e.g. Person, Order" autocomplete="off" />
      <datalist id="live-type-names">${declared.map((t) => html`<option key=${t} value=${t} />`)}</datalist>
      <button type="submit">Apply</button>
    </form>
    ${resets.map(
      (r) => html`<div class="notice warn reset" role="alert" key=${r.at}>
        Some changes were missed: the change log no longer holds them${r.prunedThrough ? ` (pruned up to change ${r.prunedThrough})` : ''}.
        The list goes on from change ${r.head ?? '…'}; reload the pages you rely on.
      </div>`,
    )}
    <${ErrorBox} error=${error}>
      ${status === 'reconnecting' ? html`<span>Reconnecting, and resuming after the last change shown.</span>` : null}
    <//>
    ${!rows.length
      ? html`<${Empty} title="Waiting for changes">
          <p>Changes made by anyone (this console, the API, the CLI, other instances) appear here as they happen.</p>
        <//>`
      : html`<div class="table-wrap" role="region" aria-label="Live changes" tabindex="0">
          <table class="grid live">
            <thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Object</th><th scope="col">Changed</th><th scope="col">By key</th></tr></thead>
            <tbody>
              ${rows.map(
                (c) => html`<tr key=${c.changeId} data-change=${c.changeId}>
                  <td class="nowrap muted">${when(c.at)}</td>
                  <td>${operationWords(c.operation)}</td>
                  <td class="nowrap">
                    ${c.operation === 'dropObject'
                      ? html`<a href=${href('h', String(c.objectId))}>${c.objectType} #${c.objectId}</a> <span class="muted">(history)</span>`
                      : html`<a href=${href('o', String(c.objectId))}>${c.objectType} #${c.objectId}</a>`}
                  </td>
                  <td>${(c.changed || []).filter((n) => !QUIET.includes(n)).join(', ')}</td>
                  <td>${c.keyId ? html`<code class="key-id">${c.keyId}</code>` : html`<span class="muted">—</span>`}</td>
                </tr>`,
              )}
            </tbody>
          </table>
        </div>`}
  </section>`;
}
