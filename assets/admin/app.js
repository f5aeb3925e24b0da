// The console's shell: sign-in, navigation and the router. Pages live in their own modules.

import { render } from './vendor/preact.mjs';
import { useEffect, useRef, useState } from './vendor/hooks.mjs';
import { REFUSED, clearSession, forgetConfig, get, saveSession, session } from './api.js';
import { ConfigPage } from './config.js';
import { HistoryPage } from './history.js';
import { LivePage } from './live.js';
import { NewObjectPage, ObjectPage } from './object.js';
import { TablePage } from './table.js';
import { TypesPage } from './types.js';
import { ErrorBox, Loading, Notice, href, html, takeFlash, useRoute } from './ui.js';

function SignIn({ onSignedIn, refused, last }) {
  const [key, setKey] = useState('');
  const [app, setApp] = useState((last && last.app) || 'default');
  const [system, setSystem] = useState((last && last.system) || 'LIVE');
  const [error, setError] = useState(refused || null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const s = { key: key.trim(), app: app.trim() || 'default', system };
    try {
      // Any read endpoint tells whether the key is good for this app.
      await get('getConfig', {}, s);
      saveSession(s);
      forgetConfig();
      onSignedIn(s);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<main id="main" class="sign-in">
    <form onSubmit=${submit} aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">Sign in to the datastore</h1>
      <p class="muted">With an API key (<code>datastore keys create --role admin</code> prints one). It is
        kept in this tab only and sent with every request.</p>
      <label for="key">API key</label>
      <input id="key" type="password" value=${key} onInput=${(e) => setKey(e.target.value)} autocomplete="off" autofocus required />
      <div class="two-fields">
        <div>
          <label for="app">App</label>
          <input id="app" value=${app} onInput=${(e) => setApp(e.target.value)} autocomplete="off" />
        </div>
        <div>
          <label for="system">System</label>
          <select id="system" value=${system} onChange=${(e) => setSystem(e.target.value)}>
            <option>LIVE</option><option>STAGING</option><option>TEST</option>
          </select>
        </div>
      </div>
      <div class="actions">
        <button type="submit" disabled=${busy}>Sign in</button>
        <${Loading} busy=${busy} label="Checking the key" />
      </div>
      <${ErrorBox} error=${error} />
    </form>
  </main>`;
}

function Page({ route }) {
  const [head, a] = route.path;
  if (!head) return html`<${TypesPage} />`;
  if (head === 't' && a) return html`<${TablePage} key=${a} type=${a} params=${route.params} />`;
  if (head === 'o' && a) return html`<${ObjectPage} key=${a} id=${a} />`;
  if (head === 'new' && a) return html`<${NewObjectPage} key=${a} type=${a} />`;
  if (head === 'h' && a) return html`<${HistoryPage} key=${a} id=${a} />`;
  if (head === 'live') return html`<${LivePage} params=${route.params} />`;
  if (head === 'config') return html`<${ConfigPage} />`;
  return html`<p>There is no page <code>${location.hash}</code>. <a href="#/">Go to the types</a>.</p>`;
}

function App() {
  const [signedIn, setSignedIn] = useState(session);
  const route = useRoute();
  const main = useRef(null);
  const [flash, setFlash] = useState('');
  // A new page: its message, and focus on the page (keyboard and screen-reader users).
  useEffect(() => {
    setFlash(takeFlash());
    if (main.current) main.current.focus({ preventScroll: true });
  }, [location.hash]);
  // The session's key refused by any request (revoked, expired, or accepted at sign-in only
  // because the service ran open for a moment): back to the sign-in form, saying why. Pages
  // handle their errors themselves, so this cannot wait for an unhandled rejection.
  const [refused, setRefused] = useState(null);
  const [last, setLast] = useState(null);
  useEffect(() => {
    const onRefused = (e) => signOut(e.detail);
    addEventListener(REFUSED, onRefused);
    return () => removeEventListener(REFUSED, onRefused);
  }, []);
  const signOut = (why = null) => {
    setLast(session());
    clearSession();
    forgetConfig();
    setRefused(why);
    setSignedIn(null);
  };
  const signIn = (s) => {
    setRefused(null);
    setSignedIn(s);
  };
  if (!signedIn) return html`<${SignIn} onSignedIn=${signIn} refused=${refused} last=${last} />`;
  const at = route.path[0] || '';
  return html`<a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); main.current.focus(); }}>Skip to the content</a>
    <header class="top">
      <a class="brand" href="#/">datastore</a>
      <nav aria-label="Main">
        <a href="#/" aria-current=${at === '' || at === 't' || at === 'o' || at === 'new' || at === 'h' ? 'page' : undefined}>Types</a>
        <a href=${href('live')} aria-current=${at === 'live' ? 'page' : undefined}>Live</a>
        <a href=${href('config')} aria-current=${at === 'config' ? 'page' : undefined}>DSConfig</a>
      </nav>
      <span class="spacer"></span>
      <span class="who muted">app ${signedIn.app} · ${signedIn.system}</span>
      <button type="button" class="small secondary" onClick=${() => signOut()}>Sign out</button>
    </header>
    <main id="main" ref=${main} tabindex="-1">
      <${Notice} text=${flash} />
      <${Page} route=${route} />
    </main>`;
}

render(html`<${App} />`, document.getElementById('app'));
