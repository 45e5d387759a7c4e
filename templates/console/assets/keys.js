// Signing keys page: the tenant's keys (GET /tenants/{slug}/keys), rotation (POST .../rotate,
// after a confirmation) and the public JWKS found through the tenant's discovery document
// (OpenID Connect Discovery §3 `jwks_uri`). Uses only window.Console (console.js) and fetch.
'use strict';

Console.ready.then((ctx) => {
  const $ = (id) => document.getElementById(id);
  const table = $('keys');
  const jwks = $('jwks');
  const readOnly = ctx.user && ctx.user.role === 'auditor';
  const slug = encodeURIComponent(ctx.tenant);

  if (readOnly) document.querySelectorAll('[data-write]').forEach((el) => { el.hidden = true; });

  const failure = (res, what) => (res.status === 403
    ? `${what}: your role does not allow this (${Console.errorText(res.body)})`
    : `${what}: ${Console.errorText(res.body)}`);

  /** A Unix time as a <time> element, or a dash. */
  function time(secs) {
    if (secs == null) return Console.el('span', { class: 'muted', text: '—' });
    const iso = new Date(secs * 1000).toISOString();
    return Console.el('time', { datetime: iso, text: `${iso.replace('T', ' ').slice(0, 16)} UTC` });
  }

  /** Asks before a destructive action with the page's <dialog>; resolves true on confirm. */
  function confirmAction(text, label) {
    const dialog = $('confirm-dialog');
    const buttons = dialog.querySelector('form');
    $('confirm-message').textContent = text;
    $('confirm-ok').textContent = label;
    // Settled by the button that submits the method=dialog form, or by Escape (cancel).
    return new Promise((resolve) => {
      const done = (ok) => {
        buttons.removeEventListener('submit', onSubmit);
        dialog.removeEventListener('cancel', onCancel);
        resolve(ok);
      };
      const onSubmit = (event) => done(!!event.submitter && event.submitter.value === 'ok');
      const onCancel = () => done(false);
      buttons.addEventListener('submit', onSubmit);
      dialog.addEventListener('cancel', onCancel);
      dialog.showModal();
    });
  }

  async function loadKeys() {
    const res = await Console.api('GET', `/tenants/${slug}/keys`);
    if (res.status !== 200) { Console.notify(failure(res, 'Keys unavailable'), 'error'); return; }
    const items = (res.body && res.body.items) || [];
    if (!items.length) {
      table.replaceChildren(Console.el('tr', {}, Console.el('td', { colspan: '7', class: 'muted', text: 'No keys yet.' })));
      return;
    }
    table.replaceChildren(...items.map((k) => Console.el('tr', { 'data-kid': k.kid, 'data-state': k.state },
      Console.el('th', { scope: 'row' }, Console.el('code', { text: k.kid })),
      Console.el('td', { text: k.alg }),
      Console.el('td', {}, Console.el('span', { class: `badge ${k.state}`, text: k.state })),
      Console.el('td', {}, time(k.created_at)),
      Console.el('td', {}, time(k.activated_at)),
      Console.el('td', {}, time(k.retired_at)),
      Console.el('td', {}, time(k.expires_at)))));
  }

  /** Fetches a public JSON document of this origin (no bearer: discovery and JWKS are public). */
  async function getJson(url) {
    const response = await fetch(url, { credentials: 'omit', cache: 'no-store', headers: { Accept: 'application/json' } });
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    return response.json();
  }

  async function loadJwks() {
    const discovery = `/t/${slug}/.well-known/openid-configuration`;
    try {
      const config = await getJson(discovery);
      let uri = config.jwks_uri;
      // connect-src 'self': a JWKS served on a verified custom domain is read at its path form.
      if (!uri || new URL(uri, location.href).origin !== location.origin) uri = `/t/${slug}/jwks`;
      const link = $('jwks-uri');
      link.href = config.jwks_uri || uri;
      link.textContent = config.jwks_uri || uri;
      const doc = await getJson(uri);
      jwks.textContent = JSON.stringify(doc, null, 2);
    } catch (e) {
      jwks.textContent = `The JWKS could not be loaded: ${e.message}`;
    }
  }

  $('rotate-keys').addEventListener('click', async () => {
    const ok = await confirmAction('Rotate every key ring now? The next key starts signing, the active one retires (it stays in the JWKS until its tokens expire) and a new next key is published.', 'Rotate keys');
    if (!ok) return;
    const button = $('rotate-keys');
    button.disabled = true;
    const res = await Console.api('POST', `/tenants/${slug}/keys/rotate`);
    button.disabled = false;
    if (res.status !== 200) { Console.notify(failure(res, 'Keys not rotated'), 'error'); return; }
    const rings = (res.body.rings || [res.body]).map((r) => `${r.alg} now signs with ${r.activated}`);
    Console.notify(`Keys rotated: ${rings.join('; ')}.`, 'ok');
    await Promise.all([loadKeys(), loadJwks()]);
  });

  loadKeys();
  loadJwks();
});
