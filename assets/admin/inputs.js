// One input per property type (API.md §4): what a person edits, and what is sent back.
// A draft is what the input holds; `fromDraft` turns it into the value the API takes
// (text where the API converts text, "" to remove the property).

import { useEffect, useRef, useState } from './vendor/hooks.mjs';
import { download, fileBlob, formatBytes, get, listItems, upload } from './api.js';
import { ErrorBox, Loading, href, html } from './ui.js';

const pad = (n) => String(n).padStart(2, '0');

/// RFC 3339 UTC → the `datetime-local` value in the browser's time zone.
function localDatetime(text) {
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function toDraft(type, value) {
  if (value === undefined || value === null) {
    if (type === 'Switch') return false;
    if (type === 'Location') return { lat: '', lng: '' };
    return '';
  }
  switch (type) {
    case 'Datetime':
      return localDatetime(value);
    case 'Switch':
      return value === true;
    case 'Location':
      return { lat: String(value.lat), lng: String(value.lng) };
    case 'JsonArray':
    case 'Map':
      return JSON.stringify(value, null, 1);
    case 'Image':
    case 'FileLink':
      return value;
    default:
      return String(value);
  }
}

export function fromDraft(type, draft) {
  switch (type) {
    case 'Datetime': {
      if (!draft) return '';
      const d = new Date(draft);
      return Number.isNaN(d.getTime()) ? draft : d.toISOString().replace('.000Z', 'Z');
    }
    case 'Switch':
      return draft ? 'true' : 'false';
    case 'Location':
      return draft.lat === '' && draft.lng === '' ? '' : `${draft.lat},${draft.lng}`;
    case 'Lookup':
      return /^\d+$/.test(draft) ? Number(draft) : draft;
    default:
      return draft;
  }
}

export const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/// A property's input. `pc` is its DSConfig entry ({type, list, objectType, display}).
export function Field({ objectId, name, pc, draft, onDraft, error, onUploaded }) {
  const type = pc.type;
  const id = `prop-${name}`;
  const described = error ? `${id}-error` : `${id}-type`;
  const common = { id, 'aria-describedby': described, 'aria-invalid': error ? 'true' : 'false' };
  let input;
  switch (type) {
    case 'Integer':
      input = html`<input ...${common} type="number" step="1" inputmode="numeric" value=${draft} onInput=${(e) => onDraft(e.target.value)} />`;
      break;
    case 'Number':
      input = html`<input ...${common} type="number" step="any" value=${draft} onInput=${(e) => onDraft(e.target.value)} />`;
      break;
    case 'Currency':
      input = html`<input ...${common} inputmode="decimal" value=${draft} onInput=${(e) => onDraft(e.target.value)} />`;
      break;
    case 'Date':
      input = html`<input ...${common} type="date" value=${draft} onInput=${(e) => onDraft(e.target.value)} />`;
      break;
    case 'Datetime':
      input = html`<input ...${common} type="datetime-local" step="1" value=${draft} onInput=${(e) => onDraft(e.target.value)} />`;
      break;
    case 'Time':
      input = html`<input ...${common} type="time" step="1" value=${draft} onInput=${(e) => onDraft(e.target.value)} />`;
      break;
    case 'Switch':
      input = html`<input ...${common} type="checkbox" checked=${draft} onChange=${(e) => onDraft(e.target.checked)} />`;
      break;
    case 'List':
      input = html`<${ListSelect} common=${common} list=${pc.list} draft=${draft} onDraft=${onDraft} />`;
      break;
    case 'Lookup':
      input = html`<${LookupSearch} common=${common} pc=${pc} draft=${draft} onDraft=${onDraft} />`;
      break;
    case 'Location':
      input = html`<span class="pair">
        <label for=${`${id}-lat`}>lat</label>
        <input id=${`${id}-lat`} aria-describedby=${described} type="number" step="any" min="-90" max="90" value=${draft.lat} onInput=${(e) => onDraft({ ...draft, lat: e.target.value })} />
        <label for=${`${id}-lng`}>lng</label>
        <input id=${`${id}-lng`} aria-describedby=${described} type="number" step="any" min="-180" max="180" value=${draft.lng} onInput=${(e) => onDraft({ ...draft, lng: e.target.value })} />
      </span>`;
      break;
    case 'JsonArray':
    case 'Map':
      input = html`<textarea ...${common} rows="3" spellcheck="false" class="mono" value=${draft} onInput=${(e) => onDraft(e.target.value)}></textarea>`;
      break;
    case 'EncodedString':
      input = html`<textarea ...${common} rows="2" spellcheck="false" class="mono" value=${draft} onInput=${(e) => onDraft(e.target.value)}></textarea>`;
      break;
    case 'Image':
    case 'FileLink':
      input = html`<${FileInput} common=${common} objectId=${objectId} name=${name} image=${type === 'Image'} value=${draft} onUploaded=${onUploaded} />`;
      break;
    case 'StaticFileLink':
      input = html`<input ...${common} type="text" inputmode="url" value=${draft} onInput=${(e) => onDraft(e.target.value)} />`;
      break;
    default:
      input = html`<input ...${common} type="text" value=${draft} onInput=${(e) => onDraft(e.target.value)} />`;
  }
  const hint = type === 'Lookup' ? `Lookup → ${pc.objectType}` : type === 'List' ? `List ${pc.list}` : type;
  return html`<div class=${`field${error ? ' invalid' : ''}`} data-property=${name}>
    ${type === 'Location' ? html`<span class="label" id=${`${id}-label`}>${name}</span>` : html`<label for=${id}>${name}</label>`}
    <div class="control">
      ${input}
      <span class="hint" id=${`${id}-type`}>${hint}</span>
      ${error ? html`<span class="field-error" id=${`${id}-error`}>${error}</span>` : null}
    </div>
  </div>`;
}

function ListSelect({ common, list, draft, onDraft }) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    listItems(list).then(setItems, setError);
  }, [list]);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!items) return html`<select ...${common} disabled><option>Loading…</option></select>`;
  const known = items.some((i) => i.code === draft);
  return html`<select ...${common} value=${draft} onChange=${(e) => onDraft(e.target.value)}>
    <option value="">(none)</option>
    ${!known && draft ? html`<option value=${draft}>${draft} (not in the list)</option>` : null}
    ${items.map((i) => html`<option key=${i.code} value=${i.code}>${i.value} (${i.code})</option>`)}
  </select>`;
}

/// Escapes text for a double-quoted string of the query language.
const quoted = (text) => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

function LookupSearch({ common, pc, draft, onDraft }) {
  const [text, setText] = useState('');
  const [hits, setHits] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [chosen, setChosen] = useState(null);
  const display = pc.display || 'objectId';
  useEffect(() => {
    const t = text.trim();
    if (!t) {
      setHits(null);
      return undefined;
    }
    const timer = setTimeout(async () => {
      setBusy(true);
      setError(null);
      try {
        const conditions = [];
        if (/^\d+$/.test(t)) conditions.push(`objectId == ${t}`);
        if (display !== 'objectId') conditions.push(`${display} like ${quoted(t)}`);
        const r = await get('getObjectListByFilter', {
          objectType: pc.objectType,
          query: conditions.join(' or '),
          limit: 8,
          count: false,
        });
        setHits(r.data);
      } catch (e) {
        setError(e);
      } finally {
        setBusy(false);
      }
    }, 250);
    return () => clearTimeout(timer);
  }, [text]);
  const current = chosen && String(chosen.objectId) === String(draft) ? chosen : null;
  const pick = (o) => {
    setChosen(o);
    onDraft(String(o.objectId));
    setText('');
    setHits(null);
  };
  const listId = `${common.id}-hits`;
  return html`<div class="lookup">
    <div class="lookup-current">
      ${draft
        ? html`<a href=${href('o', String(draft))}>${current ? `${current[display] ?? ''} (#${draft})` : `#${draft}`}</a>
            <button type="button" class="small secondary" onClick=${() => onDraft('')}>Clear</button>`
        : html`<span class="muted">none</span>`}
    </div>
    <input ...${common} type="search" placeholder=${`Search ${pc.objectType} by ${display} or id`} value=${text}
      onInput=${(e) => setText(e.target.value)} autocomplete="off" aria-controls=${listId} />
    <${Loading} busy=${busy} label="Searching" />
    <${ErrorBox} error=${error} />
    ${hits
      ? html`<ul class="hits" id=${listId} aria-label="Matches">
          ${hits.length === 0 ? html`<li class="muted">No ${pc.objectType} matches.</li>` : null}
          ${hits.map(
            (o) => html`<li key=${o.objectId}><button type="button" class="hit" onClick=${() => pick(o)}>
              ${o[display] ?? ''} <span class="muted">#${o.objectId}${o.objectNumber ? ` ${o.objectNumber}` : ''}</span>
            </button></li>`,
          )}
        </ul>`
      : null}
  </div>`;
}

function FileInput({ common, objectId, name, image, value, onUploaded }) {
  // The image shown: the file chosen (before upload) or the one stored.
  const [preview, setPreview] = useState(null);
  const [source, setSource] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const input = useRef(null);
  // The stored image, fetched with the key (an <img src> could not send it).
  useEffect(() => {
    let url = null;
    let live = true;
    if (image && value && value.fileId !== undefined && objectId) {
      fileBlob(objectId, name).then(
        (blob) => {
          if (!live) return;
          url = URL.createObjectURL(blob);
          setPreview(url);
          setSource('stored');
        },
        () => {},
      );
    }
    return () => {
      live = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [value && value.fileId]);
  const chosen = (e) => {
    const file = e.target.files[0];
    if (file && image) {
      setPreview(URL.createObjectURL(file));
      setSource('chosen');
    }
  };
  const send = async () => {
    const file = input.current && input.current.files[0];
    if (!file) return;
    setBusy(true);
    setError(null);
    try {
      const obj = await upload(objectId, name, file);
      input.current.value = '';
      onUploaded(obj);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const save = async () => {
    try {
      const blob = await fileBlob(objectId, name);
      download(blob, value.name || name);
    } catch (e) {
      setError(e);
    }
  };
  if (!objectId) return html`<span class="muted">Create the object first, then upload a file here.</span>`;
  return html`<div class="file">
    ${value && value.name
      ? html`<span>${value.name} <span class="muted">${value.contentType || ''}, ${formatBytes(value.size || 0)}</span>
          <button type="button" class="small secondary" onClick=${save}>Download</button></span>`
      : html`<span class="muted">no file</span>`}
    ${image && preview ? html`<img class="preview" src=${preview} data-source=${source} alt=${source === 'chosen' ? `${name}: the file chosen, not uploaded yet` : name} />` : null}
    <span class="upload-row">
      <input ...${common} ref=${input} type="file" accept=${image ? 'image/*' : undefined} onChange=${chosen} />
      <button type="button" onClick=${send} disabled=${busy}>Upload</button>
      <${Loading} busy=${busy} label="Uploading" />
    </span>
    <${ErrorBox} error=${error} />
  </div>`;
}

/// The type of a property the DSConfig does not declare (open schema): from its value.
export function guessType(value) {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    if ('fileId' in value) return 'FileLink';
    if ('lat' in value && 'lng' in value) return 'Location';
    return 'Map';
  }
  if (Array.isArray(value)) return 'JsonArray';
  return 'String';
}
