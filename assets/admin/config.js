// The DSConfig page: the active configuration (getConfig) as TOML files to edit, validated
// by the service (validateConfig, admin) with each problem at its file and line.

import { useEffect, useRef, useState } from './vendor/hooks.mjs';
import { config, download, get } from './api.js';
import { ErrorBox, Loading, Notice, html, useAsync } from './ui.js';

const BARE = /^[A-Za-z0-9_-]+$/;
const key = (k) => (BARE.test(k) ? k : JSON.stringify(k));
const str = (s) => JSON.stringify(String(s));

/// The active DSConfig (getConfig's JSON) written as one DSConfig TOML file.
export function toToml(c) {
  const out = [`schemaMode = ${str(c.schemaMode || 'open')}`];
  for (const [type, t] of Object.entries(c.types || {})) {
    out.push('', `[types.${key(type)}]`);
    if (t.numbering) {
      const n = t.numbering;
      out.push(`numbering = { prefix = ${str(n.prefix)}, width = ${n.width}, start = ${n.start} }`);
    }
    if (t.global) out.push('global = true');
    const props = Object.entries(t.properties || {});
    if (props.length) {
      out.push('', `[types.${key(type)}.properties]`);
      for (const [name, p] of props) {
        const extra = [];
        if (p.list) extra.push(`list = ${str(p.list)}`);
        if (p.objectType) extra.push(`objectType = ${str(p.objectType)}`);
        if (p.display) extra.push(`display = ${str(p.display)}`);
        out.push(extra.length ? `${key(name)} = { type = ${str(p.type)}, ${extra.join(', ')} }` : `${key(name)} = ${str(p.type)}`);
      }
    }
  }
  for (const [list, items] of Object.entries(c.lists || {})) {
    for (const item of items) out.push('', `[[lists.${key(list)}]]`, `code = ${str(item.code)}`, `value = ${str(item.value)}`);
  }
  return out.join('\n') + '\n';
}

export function ConfigPage() {
  const cfg = useAsync(() => config(true), []);
  const [files, setFiles] = useState(null);
  const [verdict, setVerdict] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const areas = useRef({});
  useEffect(() => {
    if (cfg.data && !files) setFiles([{ name: 'dsconfig.toml', text: toToml(cfg.data) }]);
  }, [cfg.data]);

  const validate = async () => {
    setBusy(true);
    setError(null);
    setVerdict(null);
    try {
      const r = await get('validateConfig', { files: Object.fromEntries(files.map((f) => [f.name, f.text])) });
      setVerdict(r.data);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const edit = (i, change) => {
    setFiles(files.map((f, j) => (i === j ? { ...f, ...change } : f)));
    setVerdict(null);
  };
  /// Puts the caret on `line` of `file` and selects that line.
  const show = (file, line) => {
    const area = areas.current[file];
    if (!area) return;
    const lines = area.value.split('\n');
    const at = Math.max(1, line);
    const start = lines.slice(0, at - 1).reduce((n, l) => n + l.length + 1, 0);
    area.focus();
    area.setSelectionRange(start, start + (lines[at - 1] || '').length);
    area.dispatchEvent(new Event('select'));
    const lineHeight = area.scrollHeight / Math.max(1, lines.length);
    area.scrollTop = Math.max(0, (at - 3) * lineHeight);
  };

  return html`<section aria-labelledby="config-title">
    <div class="page-head">
      <h1 id="config-title">DSConfig</h1>
      ${cfg.data ? html`<span class="muted">active version ${cfg.data.version ?? '–'}, schema ${cfg.data.schemaMode}, ${Object.keys(cfg.data.types || {}).length} types, ${Object.keys(cfg.data.lists || {}).length} lists</span>` : null}
    </div>
    <${ErrorBox} error=${cfg.error} />
    <${Loading} busy=${cfg.busy} label="Loading the DSConfig" />
    <p class="muted">The active DSConfig, written as TOML. Edit it (or add files, read in name order) and
      validate: every problem is shown at its file and line. Validating stores nothing: apply a valid
      DSConfig with <code>datastore dsconfig apply DIR</code>, or start the service with it.</p>
    ${files
      ? html`${files.map(
          (f, i) => html`<div class="toml-file" key=${i}>
            <div class="inline-form">
              <label for=${`file-name-${i}`}>File</label>
              <input id=${`file-name-${i}`} value=${f.name} onInput=${(e) => edit(i, { name: e.target.value })} />
              ${files.length > 1 ? html`<button type="button" class="small secondary" onClick=${() => setFiles(files.filter((_, j) => j !== i))}>Remove file</button>` : null}
            </div>
            <label class="sr-only" for=${`file-text-${i}`}>${f.name}</label>
            <textarea id=${`file-text-${i}`} class="mono toml" rows="18" spellcheck="false" value=${f.text}
              ref=${(el) => { if (el) areas.current[f.name] = el; }}
              onInput=${(e) => edit(i, { text: e.target.value })}></textarea>
            <${CaretLine} area=${() => areas.current[f.name]} />
          </div>`,
        )}
        <div class="actions">
          <button type="button" onClick=${validate} disabled=${busy}>Validate</button>
          <button type="button" class="secondary" onClick=${() => setFiles([...files, { name: `${String(files.length + 1).padStart(2, '0')}-more.toml`, text: '' }])}>Add a file</button>
          <button type="button" class="secondary" onClick=${() => { setFiles([{ name: 'dsconfig.toml', text: toToml(cfg.data) }]); setVerdict(null); }}>Reset to the active one</button>
          <button type="button" class="secondary" onClick=${() => files.forEach((f) => download(new Blob([f.text], { type: 'text/plain' }), f.name))}>Download</button>
          <${Loading} busy=${busy} label="Validating" />
        </div>`
      : null}
    <${ErrorBox} error=${error} />
    ${verdict && verdict.valid
      ? html`<${Notice} text=${`Valid: ${verdict.types} types, ${verdict.lists} lists, schema ${verdict.schemaMode}.`} />`
      : null}
    ${verdict && !verdict.valid
      ? html`<div class="error problems" role="alert">
          <strong>${verdict.problems.length} problem${verdict.problems.length === 1 ? '' : 's'}</strong>
          <ul>
            ${verdict.problems.map(
              (p, i) => html`<li key=${i}>
                <button type="button" class="link" onClick=${() => show(p.file, p.line)}>${p.file}${p.line ? `:${p.line}` : ''}</button>
                ${' '}${p.message}
              </li>`,
            )}
          </ul>
        </div>`
      : null}
  </section>`;
}

/// "Line N" under a textarea, following the caret.
function CaretLine({ area }) {
  const [line, setLine] = useState(1);
  useEffect(() => {
    const el = area();
    if (!el) return undefined;
    const update = () => setLine(el.value.slice(0, el.selectionStart).split('\n').length);
    for (const ev of ['keyup', 'click', 'focus', 'select']) el.addEventListener(ev, update);
    return () => {
      for (const ev of ['keyup', 'click', 'focus', 'select']) el.removeEventListener(ev, update);
    };
  });
  return html`<span class="muted caret-line" aria-live="polite">Line ${line}</span>`;
}
