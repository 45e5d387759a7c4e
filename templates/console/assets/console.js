// Tessera console core: sign-in with the tenant's built-in `tessera-console` client
// (authorization code + PKCE S256, RFC 7636), token storage in sessionStorage, the admin API
// call helper, small DOM helpers every page script uses through `window.Console`, and the
// read-only console of auditors (controls marked `data-write` / `data-write-lock`).
'use strict';

(() => {
  const body = document.body;
  const realm = body.dataset.realm;
  const tenant = body.dataset.tenant || '';
  const base = body.dataset.base;
  const page = body.dataset.page;
  const CLIENT_ID = 'tessera-console';
  const tokenKey = `tessera-console:${realm}`;
  const flowKey = `tessera-console-flow:${realm}`;
  // The operators' console lives at /console; every other one under its tenant's path.
  const callbackPath = base.startsWith('/console') ? '/console/callback' : `${base}/callback`;
  const redirectUri = `${location.origin}${callbackPath}`;

  /** base64url without padding (RFC 7636 §4.2 / Appendix A). */
  const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));

  /** The payload of a JWT, or {} when it is not one. */
  const claimsOf = (jwt) => {
    try {
      const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const text = new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0)));
      return JSON.parse(text);
    } catch (_) {
      return {};
    }
  };

  /** The stored tokens, if still valid for at least ten seconds. */
  const storedTokens = () => {
    try {
      const tokens = JSON.parse(sessionStorage.getItem(tokenKey));
      if (tokens && tokens.access_token && tokens.expires_at > Date.now() / 1000 + 10) return tokens;
    } catch (_) { /* unreadable: sign in again */ }
    return null;
  };

  /** Starts a sign-in at the realm's authorization endpoint; the page unloads. */
  async function signIn() {
    const verifier = random(32);
    const state = random(16);
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
    sessionStorage.setItem(flowKey, JSON.stringify({
      verifier, state, redirect_uri: redirectUri, return_to: location.pathname + location.search,
    }));
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: CLIENT_ID,
      redirect_uri: redirectUri,
      scope: 'openid profile',
      code_challenge: b64url(digest),
      code_challenge_method: 'S256',
      state,
    });
    location.assign(`/t/${encodeURIComponent(realm)}/authorize?${params}`);
    return new Promise(() => {});
  }

  /** Finishes a sign-in on the callback page: checks state, redeems the code, returns. */
  async function finishSignIn() {
    const params = new URLSearchParams(location.search);
    let flow = null;
    try { flow = JSON.parse(sessionStorage.getItem(flowKey)); } catch (_) { /* none */ }
    sessionStorage.removeItem(flowKey);
    if (params.get('error')) {
      throw new Error(`${params.get('error')}: ${params.get('error_description') || 'sign-in refused'}`);
    }
    // RFC 6749 §10.12: the response must answer the request this browser started.
    if (!flow || !params.get('state') || params.get('state') !== flow.state) {
      throw new Error('This sign-in response does not match a sign-in started here. Open the console again.');
    }
    const response = await fetch(`/t/${encodeURIComponent(realm)}/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: params.get('code') || '',
        redirect_uri: flow.redirect_uri,
        client_id: CLIENT_ID,
        code_verifier: flow.verifier,
      }),
      credentials: 'omit',
    });
    const tokens = await response.json().catch(() => ({}));
    if (!response.ok || !tokens.access_token) throw new Error(errorText(tokens));
    const stored = {
      access_token: tokens.access_token,
      id_token: tokens.id_token || '',
      expires_at: Math.floor(Date.now() / 1000) + (Number(tokens.expires_in) || 300),
      username: '',
      role: '',
    };
    // The ID token carries only `sub` when an access token is issued too (OIDC Core §5.4):
    // the name comes from userinfo, the console role from the user's own admin record.
    const bearer = { Authorization: `Bearer ${tokens.access_token}`, Accept: 'application/json' };
    const info = await fetch(`/t/${encodeURIComponent(realm)}/userinfo`, { headers: bearer, credentials: 'omit' })
      .then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
    stored.username = info.preferred_username || info.sub || '';
    if (info.preferred_username) {
      const me = await fetch(`/admin/v1/tenants/${encodeURIComponent(realm)}/users/${encodeURIComponent(info.preferred_username)}`,
        { headers: bearer, credentials: 'omit' }).then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
      stored.role = me.role || '';
    }
    sessionStorage.setItem(tokenKey, JSON.stringify(stored));
    const back = flow.return_to && flow.return_to.startsWith('/') && !flow.return_to.startsWith('//')
      ? flow.return_to : base;
    location.replace(back);
  }

  /** Clears this realm's tokens and ends the session at the realm (RP-Initiated Logout §2). */
  function signOut() {
    const tokens = storedTokens();
    sessionStorage.removeItem(tokenKey);
    sessionStorage.removeItem(flowKey);
    // The console's start page is a registered post-logout redirect URI of its client.
    const home = base.startsWith('/console') ? '/console' : `/t/${encodeURIComponent(realm)}/console`;
    const params = new URLSearchParams({ client_id: CLIENT_ID, post_logout_redirect_uri: `${location.origin}${home}` });
    if (tokens && tokens.id_token) params.set('id_token_hint', tokens.id_token);
    location.assign(`/t/${encodeURIComponent(realm)}/logout?${params}`);
  }

  /** "error: description" of an RFC-shaped error body (RFC 6749 §5.2), or the text itself. */
  function errorText(value) {
    if (value && typeof value === 'object' && value.error) {
      return value.error_description ? `${value.error}: ${value.error_description}` : value.error;
    }
    if (typeof value === 'string' && value) return value;
    return 'the request failed';
  }

  /**
   * Calls the admin API at `/admin/v1{path}`. A body object is sent as JSON, a string raw with
   * opts.contentType. Resolves {status, body, headers}; opts.blob gives the body as a Blob.
   * Never rejects on an HTTP error; a 401 drops the token and signs in again.
   */
  async function api(method, path, payload, opts = {}) {
    const tokens = storedTokens();
    if (!tokens) return signIn();
    const headers = { Authorization: `Bearer ${tokens.access_token}`, Accept: 'application/json' };
    let sent;
    if (typeof payload === 'string') {
      headers['Content-Type'] = opts.contentType || 'text/x-handlebars';
      sent = payload;
    } else if (payload !== undefined && payload !== null) {
      headers['Content-Type'] = 'application/json';
      sent = JSON.stringify(payload);
    }
    let response;
    try {
      response = await fetch(`/admin/v1${path}`, { method, headers, body: sent, credentials: 'omit' });
    } catch (e) {
      return { status: 0, body: { error: 'network_error', error_description: String(e.message || e) }, headers: new Headers() };
    }
    if (response.status === 401) {
      sessionStorage.removeItem(tokenKey);
      return signIn();
    }
    let result;
    if (opts.blob) {
      result = await response.blob();
    } else {
      const type = response.headers.get('Content-Type') || '';
      const text = await response.text();
      result = text;
      if (type.includes('json') && text) {
        try { result = JSON.parse(text); } catch (_) { /* keep the text */ }
      }
    }
    return { status: response.status, body: result, headers: response.headers };
  }

  /** Builds an element: attrs class, id, text, on* listeners, data-*, aria-*, other attributes. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === 'class') node.className = value;
      else if (name === 'text') node.textContent = value;
      else if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
      else if (name === 'value' && 'value' in node) node.value = value;
      else if (name === 'checked' || name === 'selected' || name === 'disabled' || name === 'hidden') node[name] = Boolean(value);
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** Shows `message` in the layout's notice area; errors are announced assertively. */
  function notify(message, kind = 'ok') {
    const notice = document.getElementById('notice');
    if (!notice) return;
    notice.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    notice.setAttribute('aria-live', kind === 'error' ? 'assertive' : 'polite');
    notice.className = kind === 'error' ? 'error' : 'ok';
    notice.textContent = message;
  }

  /**
   * A form's fields as a plain object: a lone checkbox → boolean, same-named checkboxes → array
   * of checked values, multi-select → array, [data-list] textarea/input → array of non-empty
   * lines, number → number (null when empty), anything else → string.
   */
  function formData(form) {
    const out = {};
    const counts = {};
    for (const field of form.elements) {
      if (field.name && field.type === 'checkbox') counts[field.name] = (counts[field.name] || 0) + 1;
    }
    for (const field of form.elements) {
      const name = field.name;
      if (!name || field.disabled || ['submit', 'button', 'reset', 'fieldset'].includes(field.type)) continue;
      if (field.type === 'checkbox') {
        if (counts[name] > 1) {
          out[name] = out[name] || [];
          if (field.checked) out[name].push(field.value);
        } else {
          out[name] = field.checked;
        }
      } else if (field.type === 'radio') {
        if (field.checked) out[name] = field.value;
      } else if (field.type === 'select-multiple') {
        out[name] = [...field.selectedOptions].map((o) => o.value);
      } else if (field.hasAttribute('data-list')) {
        out[name] = field.value.split(/[\r\n]+/).map((s) => s.trim()).filter(Boolean);
      } else if (field.type === 'number') {
        out[name] = field.value === '' ? null : Number(field.value);
      } else {
        out[name] = field.value;
      }
    }
    return out;
  }

  /** Calls `fn` once `ms` have passed without another call (search as you type). */
  function debounce(fn, ms = 250) {
    let timer;
    return (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
  }

  /** A Unix time as local date and time. */
  function when(seconds) {
    return seconds ? new Date(seconds * 1000).toLocaleString() : '';
  }

  /** Runs `work` with `button` disabled, so a double click does not submit twice. */
  async function busy(button, work) {
    if (button) button.disabled = true;
    try { return await work(); } finally { if (button) button.disabled = false; }
  }

  /** "what: reason" for a failed call; a 403 says the signed-in role does not allow it. */
  function failure(res, what) {
    const reason = errorText(res.body);
    return res.status === 403 ? `${what}: your role does not allow this (${reason})` : `${what}: ${reason}`;
  }

  /** Shows `text` as the only paragraph of a form's error box, or empties and hides the box. */
  function formError(box, text) {
    box.replaceChildren(...(text ? [el('p', { text })] : []));
    box.hidden = !text;
  }

  /** Shows a refusal both in a form's error box and in the notice area. */
  function refused(box, text) {
    formError(box, text);
    notify(text, 'error');
  }

  /**
   * Asks before a destructive action with the page's `#confirm-dialog` (a method=dialog form
   * with `#confirm-message` and `#confirm-ok`), or window.confirm on a page without one;
   * resolves true on confirm. `label` names the confirming button.
   */
  function confirmAction(text, label) {
    const dialog = document.getElementById('confirm-dialog');
    if (!dialog) return Promise.resolve(window.confirm(text));
    const buttons = dialog.querySelector('form');
    document.getElementById('confirm-message').textContent = text;
    document.getElementById('confirm-ok').textContent = label;
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

  /** Values as <code> elements separated by spaces, or a muted "none" for an empty list. */
  function codes(list) {
    if (!list || !list.length) return [el('span', { class: 'muted', text: 'none' })];
    return list.flatMap((value, i) => (i ? [' ', el('code', { text: value })] : [el('code', { text: value })]));
  }

  /** A table body's only row when it has nothing to list. */
  function emptyRow(columns, text) {
    return el('tr', {}, el('td', { colspan: String(columns), class: 'empty', text }));
  }

  /** A Unix time as "YYYY-MM-DD HH:MM UTC", or '' when unset. */
  function utc(seconds) {
    return seconds ? `${new Date(seconds * 1000).toISOString().replace('T', ' ').slice(0, 16)} UTC` : '';
  }

  /**
   * The read-only console of auditors (the admin API refuses their writes anyway): elements
   * marked `data-write` are hidden, including ones a page adds later (console.css hides them
   * under body.read-only); `data-write-lock` ones stay visible to be read but cannot be changed:
   * a form's controls are disabled, a text field becomes read-only.
   */
  function lockWrites() {
    body.classList.add('read-only');
    for (const node of document.querySelectorAll('[data-write]')) node.hidden = true;
    for (const node of document.querySelectorAll('[data-write-lock]')) {
      if (node instanceof HTMLFormElement) for (const control of node.elements) control.disabled = true;
      else if ('readOnly' in node) node.readOnly = true;
      else node.disabled = true;
    }
  }

  // Navigation: mark the current page (the server does too; this keeps custom bases right).
  for (const link of document.querySelectorAll('nav a[data-page]')) {
    if (link.dataset.page === page && link.getAttribute('href') === location.pathname) {
      link.setAttribute('aria-current', 'page');
    }
  }
  const signOutButton = document.getElementById('sign-out');
  if (signOutButton) signOutButton.addEventListener('click', signOut);

  let ready;
  if (page === 'callback') {
    ready = new Promise(() => {});
    if (signOutButton) signOutButton.hidden = true;
  } else {
    const tokens = storedTokens();
    if (!tokens) {
      ready = signIn();
    } else {
      const id = claimsOf(tokens.id_token);
      const access = claimsOf(tokens.access_token);
      const user = {
        username: tokens.username || id.preferred_username || id.sub || access.sub || '',
        role: tokens.role || '',
      };
      const who = document.getElementById('signed-in-as');
      if (who) who.textContent = user.role ? `${user.username} (${user.role.replace('_', ' ')})` : user.username;
      const readOnly = user.role === 'auditor';
      if (readOnly) lockWrites();
      ready = Promise.resolve({
        realm, tenant, base, page, user, readOnly, styleNonce: body.dataset.styleNonce || '',
      });
    }
  }

  window.Console = {
    ready, api, el, notify, formData, errorText, debounce, when, busy, finishSignIn, claimsOf,
    failure, formError, refused, confirmAction, codes, emptyRow, utc,
  };
})();
