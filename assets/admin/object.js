// One object: its properties edited with inputs that fit their types, its relationships
// (followed, added, removed) and deleting it, with the API's rules in plain words. Also the
// form that creates an object.

import { useEffect, useRef, useState } from './vendor/hooks.mjs';
import { config, get } from './api.js';
import { HistorySection } from './history.js';
import { Field, fromDraft, guessType, same, toDraft } from './inputs.js';
import { Empty, ErrorBox, Loading, Notice, SYSTEM_FIELDS, cellText, go, href, html, number, setFlash, useAsync } from './ui.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/// The properties an editor shows: the declared ones, then those the object has besides.
function propertiesOf(cfg, type, obj) {
  const declared = (cfg && cfg.types && cfg.types[type] && cfg.types[type].properties) || {};
  const out = Object.entries(declared).map(([name, pc]) => [name, pc]);
  for (const [k, v] of Object.entries(obj || {}))
    if (!SYSTEM_FIELDS.includes(k) && !k.includes('@') && !(k in declared)) out.push([k, { type: guessType(v) }]);
  return out;
}

export function ObjectPage({ id }) {
  const cfg = useAsync(() => config(), []);
  const obj = useAsync(() => get('getObject', { objectId: Number(id) }).then((r) => r.data), [id]);
  const [current, setCurrent] = useState(null);
  useEffect(() => setCurrent(obj.data || null), [obj.data]);
  const o = current;
  const gone = obj.error && obj.error.code === 'OBJECT_NOT_FOUND';
  return html`<section aria-labelledby="object-title">
    <div class="page-head">
      <h1 id="object-title">${o ? html`<a href=${href('t', o.objectType)}>${o.objectType}</a> #${o.objectId}` : `Object #${id}`}</h1>
      ${o && o.objectNumber ? html`<span class="badge">${o.objectNumber}</span>` : null}
      <span class="spacer"></span>
      <${Loading} busy=${obj.busy || cfg.busy} />
    </div>
    <${ErrorBox} error=${obj.error || cfg.error}>
      ${gone ? html`<span>Its history is below: who changed what, up to its deletion.</span>` : null}
    <//>
    ${gone ? html`<${HistorySection} id=${id} startOpen=${true} />` : null}
    ${o && cfg.data
      ? html`<p class="muted meta">Created ${o.createdAt}, updated ${o.updatedAt}</p>
          <${Editor} key=${o.objectId} cfg=${cfg.data} type=${o.objectType} object=${o} onSaved=${setCurrent} />
          <div class="two-col">
            <${Related} id=${o.objectId} kind="children" />
            <${Related} id=${o.objectId} kind="parents" />
          </div>
          <${HistorySection} key=${o.objectId} id=${o.objectId} version=${o.updatedAt} />
          <${Drop} object=${o} />`
      : null}
  </section>`;
}

export function NewObjectPage({ type }) {
  const cfg = useAsync(() => config(), []);
  return html`<section aria-labelledby="new-title">
    <div class="page-head"><h1 id="new-title">New <a href=${href('t', type)}>${type}</a></h1><${Loading} busy=${cfg.busy} /></div>
    <${ErrorBox} error=${cfg.error} />
    ${cfg.data ? html`<${Editor} cfg=${cfg.data} type=${type} object=${null} />` : null}
  </section>`;
}

function Editor({ cfg, type, object, onSaved }) {
  const [extra, setExtra] = useState([]);
  const props = [...propertiesOf(cfg, type, object), ...extra.map((n) => [n, { type: 'String' }])];
  const initial = () => Object.fromEntries(props.map(([n, pc]) => [n, toDraft(pc.type, object ? object[n] : undefined)]));
  const [drafts, setDrafts] = useState(initial);
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState('');
  const [newName, setNewName] = useState('');
  const form = useRef(null);

  const changed = {};
  for (const [n, pc] of props) {
    if (pc.type === 'Image' || pc.type === 'FileLink') continue;
    const before = fromDraft(pc.type, toDraft(pc.type, object ? object[n] : undefined));
    const now = fromDraft(pc.type, drafts[n] ?? toDraft(pc.type, undefined));
    if (!same(before, now) && !(object === null && now === '') && !(object === null && pc.type === 'Switch' && now === 'false'))
      changed[n] = now;
  }
  const dirty = Object.keys(changed).length > 0;

  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setErrors({});
    setNotice('');
    try {
      if (object) {
        const r = await get('saveProperties', { objectId: object.objectId, properties: changed });
        setDrafts(Object.fromEntries(props.map(([n, pc]) => [n, toDraft(pc.type, r.data[n])])));
        setExtra([]);
        onSaved(r.data);
        setNotice(`Saved ${Object.keys(changed).join(', ')}.`);
      } else {
        const r = await get('newObject', { objectType: type, properties: changed });
        setFlash(`Created ${type} #${r.data.objectId}.`);
        go(href('o', String(r.data.objectId)));
      }
    } catch (err) {
      setError(err);
      const name = err.details && err.details.propertyName;
      if (name) {
        setErrors({ [name]: err.plain });
        const el = form.current && form.current.querySelector(`[data-property="${name}"] input, [data-property="${name}"] select, [data-property="${name}"] textarea`);
        if (el) el.focus();
      }
    } finally {
      setBusy(false);
    }
  };

  const addProperty = (e) => {
    e.preventDefault();
    const n = newName.trim();
    if (!NAME.test(n) || props.some(([p]) => p === n)) return;
    setExtra([...extra, n]);
    setDrafts({ ...drafts, [n]: '' });
    setNewName('');
  };

  return html`<form class="editor" ref=${form} onSubmit=${submit} aria-label=${object ? 'Properties' : `New ${type}`}>
    ${props.length === 0 ? html`<${Empty} title="No properties yet"><p>Add one below.</p><//>` : null}
    ${props.map(
      ([n, pc]) => html`<${Field} key=${n} objectId=${object && object.objectId} name=${n} pc=${pc}
        draft=${pc.type === 'Image' || pc.type === 'FileLink' ? object && object[n] : drafts[n] ?? toDraft(pc.type, undefined)} error=${errors[n]}
        onDraft=${(v) => setDrafts((d) => ({ ...d, [n]: v }))}
        onUploaded=${(o) => {
          onSaved(o);
          setNotice(`Uploaded ${n}.`);
        }} />`,
    )}
    <div class="field add-property">
      <label for="new-property">Add a property</label>
      <div class="control inline-form">
        <input id="new-property" value=${newName} onInput=${(e) => setNewName(e.target.value)} placeholder="name" autocomplete="off"
          onKeyDown=${(e) => e.key === 'Enter' && addProperty(e)} />
        <button type="button" class="secondary" onClick=${addProperty} disabled=${!NAME.test(newName.trim())}>Add</button>
      </div>
    </div>
    <div class="actions">
      <button type="submit" disabled=${busy || (object && !dirty)}>${object ? 'Save changes' : `Create ${type}`}</button>
      ${object && dirty ? html`<button type="button" class="secondary" onClick=${() => { setDrafts(initial()); setErrors({}); setError(null); }}>Discard</button>` : null}
      <${Loading} busy=${busy} label="Saving" />
      <${Notice} text=${notice} />
    </div>
    <${ErrorBox} error=${error} />
  </form>`;
}

const PAGE = 10;

function Related({ id, kind }) {
  const endpoint = kind === 'children' ? 'getChildren' : 'getParents';
  // A page at a time with the cursor (`afters`: where each page so far began) and no count;
  // the count is asked once, separately, and shown when it arrives (a company with a
  // million people must not wait on it, nor page by offset).
  const [afters, setAfters] = useState(['']);
  const after = afters[afters.length - 1];
  const [changes, setChanges] = useState(0);
  const list = useAsync(
    () => get(endpoint, { objectId: id, limit: PAGE, count: false, ...(after ? { after } : {}) }),
    [id, after, changes],
  );
  const counted = useAsync(() => get(endpoint, { objectId: id, limit: 1 }).then((r) => r.total), [id, changes]);
  const [other, setOther] = useState('');
  const [strict, setStrict] = useState(false);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const title = kind === 'children' ? 'Children' : 'Parents';
  const pair = (otherId) =>
    kind === 'children' ? { parentObjectId: id, childObjectId: otherId } : { parentObjectId: otherId, childObjectId: id };
  const act = async (endpointName, params) => {
    setBusy(true);
    setError(null);
    try {
      await get(endpointName, params);
      setAfters(['']);
      setChanges((n) => n + 1);
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  };
  const add = async (e) => {
    e.preventDefault();
    if (!/^\d+$/.test(other.trim())) {
      setError({ plain: 'Give the other object’s id (a number).' });
      return;
    }
    if (await act('saveRelationship', { ...pair(Number(other.trim())), strict })) {
      setOther('');
      setStrict(false);
    }
  };
  const rows = (list.data && list.data.data) || [];
  const total = typeof counted.data === 'number' ? counted.data : null;
  const next = list.data ? list.data.next : null;
  const from = (afters.length - 1) * PAGE + 1;
  return html`<section class="related" aria-labelledby=${`${kind}-title`}>
    <h2 id=${`${kind}-title`}>${title} <span class="muted related-count">${total === null ? '' : number(total)}</span></h2>
    <${Loading} busy=${list.busy || counted.busy} label=${list.busy ? 'Loading' : 'Counting'} />
    <${ErrorBox} error=${list.error} />
    ${list.data && rows.length === 0 ? html`<p class="muted">No ${kind}.</p>` : null}
    ${rows.length
      ? html`<ul class="related-list">
          ${rows.map(
            (o) => html`<li key=${o.objectId}>
              <a href=${href('o', String(o.objectId))}>${o.objectType} #${o.objectId}</a>
              <span class="muted">${o.objectNumber || summary(o)}</span>
              ${o.strict ? html`<span class="badge strict" title="A strict child cannot be left behind when its parent is deleted">strict</span>` : null}
              <span class="spacer"></span>
              <button type="button" class="small secondary" onClick=${() => act('dropRelationship', pair(o.objectId))}
                aria-label=${`Remove the relationship with ${o.objectType} #${o.objectId}`}>Remove</button>
            </li>`,
          )}
        </ul>`
      : null}
    ${next || afters.length > 1
      ? html`<div class="pager">
          <button type="button" class="small secondary" disabled=${afters.length === 1} onClick=${() => setAfters(afters.slice(0, -1))}>Previous</button>
          <span class="muted">${number(from)}–${number(from + rows.length - 1)}${total === null ? '' : ` of ${number(total)}`}</span>
          <button type="button" class="small secondary" disabled=${!next} onClick=${() => setAfters([...afters, next])}>Next</button>
        </div>`
      : null}
    <form class="inline-form" onSubmit=${add}>
      <label for=${`${kind}-other`}>Add ${kind === 'children' ? 'a child' : 'a parent'}: object id</label>
      <input id=${`${kind}-other`} inputmode="numeric" value=${other} onInput=${(e) => setOther(e.target.value)} size="8" />
      <label class="check"><input type="checkbox" checked=${strict} onChange=${(e) => setStrict(e.target.checked)} /> strict</label>
      <button type="submit" disabled=${busy}>Add</button>
    </form>
    <${ErrorBox} error=${error} />
  </section>`;
}

/// A short text for an object in a list: its first property with a value.
function summary(o) {
  for (const k of Object.keys(o)) if (!SYSTEM_FIELDS.includes(k) && k !== 'strict' && !k.includes('@')) return cellText(o, k);
  return '';
}

function Drop({ object }) {
  const [open, setOpen] = useState(false);
  const [types, setTypes] = useState([]);
  const [ticked, setTicked] = useState([]);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [more, setMore] = useState('');
  const confirm = useRef(null);
  useEffect(() => {
    if (open && confirm.current) confirm.current.focus();
  }, [open]);
  const drop = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const extra = more.split(',').map((t) => t.trim()).filter(Boolean);
      const childObjectTypes = [...new Set([...ticked, ...extra])];
      const r = await get('dropObject', { objectId: object.objectId, ...(childObjectTypes.length ? { childObjectTypes } : {}) });
      const n = r.data.deletedObjectIds.length;
      setFlash(`Deleted ${n} object${n === 1 ? '' : 's'}: ${r.data.deletedObjectIds.join(', ')}.`);
      go(href('t', object.objectType));
    } catch (err) {
      setError(err);
      if (err.code === 'STRICT_CHILDREN_EXIST') setTypes((t) => [...new Set([...t, ...(err.details.childObjectTypes || [])])]);
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="danger" aria-labelledby="drop-title">
    <h2 id="drop-title">Delete</h2>
    ${!open
      ? html`<button type="button" class="danger" onClick=${() => setOpen(true)}>Delete this object…</button>`
      : html`<form onSubmit=${drop}>
          <p>Deleting ${object.objectType} #${object.objectId} cannot be undone. Children of the types ticked here are deleted with it; other children stay.</p>
          ${types.map(
            (t) => html`<label key=${t} class="check"><input type="checkbox" checked=${ticked.includes(t)}
              onChange=${(e) => setTicked(e.target.checked ? [...ticked, t] : ticked.filter((x) => x !== t))} /> also delete children of type ${t}</label>`,
          )}
          <div class="inline-form">
            <label for="drop-types">Child types to delete too (comma-separated)</label>
            <input id="drop-types" value=${more} onInput=${(e) => setMore(e.target.value)} autocomplete="off" />
          </div>
          <div class="actions">
            <button type="submit" class="danger" ref=${confirm} disabled=${busy}>Delete ${object.objectType} #${object.objectId}</button>
            <button type="button" class="secondary" onClick=${() => { setOpen(false); setError(null); }}>Cancel</button>
            <${Loading} busy=${busy} label="Deleting" />
          </div>
        </form>`}
    <${ErrorBox} error=${error} />
  </section>`;
}
