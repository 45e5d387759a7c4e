// Signing keys page: the tenant's keys (GET /tenants/{slug}/keys), rotation (POST .../rotate,
// after a confirmation) and the public JWKS found through the tenant's discovery document
// (OpenID Connect Discovery §3 `jwks_uri`). Uses only window.Console (console.js) and fetch.
'use strict';

Console.ready.then((ctx) => {
  const $ = (id) => document.getElementById(id);
  const table = $('keys');
  const jwks = $('jwks');
  const slug = encodeURIComponent(ctx.tenant);
  const { failure } = Console;

  /** A Unix time as a <time> element, or a dash. */
  function time(secs) {
    if (secs == null) return Console.el('span', { class: 'muted', text: '—' });
    return Console.el('time', { datetime: new Date(secs * 1000).toISOString(), text: Console.utc(secs) });
  }

  async function loadKeys() {
    const res = await Console.api('GET', `/tenants/${slug}/keys`);
    if (res.status !== 200) { Console.notify(failure(res, 'Keys unavailable'), 'error'); return; }
    const items = (res.body && res.body.items) || [];
    if (!items.length) {
      table.replaceChildren(Console.emptyRow(7, 'No keys yet.'));
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
    const ok = await Console.confirmAction('Rotate every key ring now? The next key starts signing, the active one retires (it stays in the JWKS until its tokens expire) and a new next key is published.', 'Rotate keys');
    if (!ok) return;
    const res = await Console.busy($('rotate-keys'), () => Console.api('POST', `/tenants/${slug}/keys/rotate`));
    if (res.status !== 200) { Console.notify(failure(res, 'Keys not rotated'), 'error'); return; }
    const rings = (res.body.rings || [res.body]).map((r) => `${r.alg} now signs with ${r.activated}`);
    Console.notify(`Keys rotated: ${rings.join('; ')}.`, 'ok');
    await Promise.all([loadKeys(), loadJwks()]);
  });

  loadKeys();
  loadJwks();
});
